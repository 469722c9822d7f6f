"""Training real learners on real data: snapshots, early stopping, seeds, resume, failure."""

from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest
import torch

from pol.errors import ValidationError
from pol.model import HyperParameters, Learner, LearnerPerformance, Snapshot, Tensor
from pol.model.ids import new_id
from pol.training import (
    EarlyStopping,
    build_learner,
    check_fork_overrides,
    hyper_parameters_for,
    layer_configurations,
    layers_of,
    load_dataset,
    load_layers,
    load_module,
    seeds,
    train,
)
from pol.training.state import decode_state, encode_state


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def sunspots():
    return load_dataset("sunspots")


def learner(learner_type: str = "mlp", seed: int = 11, **values) -> Learner:
    hyper_parameters = HyperParameters(
        **{"alpha": 0.05, "momentum": 0.9, "max_epochs": 3, **values}
    )
    return Learner(
        experiment_id=new_id(),
        learner_type=learner_type,
        hyper_parameters=hyper_parameters,
        seed=seed,
        id=new_id(),
    )


def run(trial: Learner, data, **options) -> tuple:
    snapshots: list[Snapshot] = []
    outcome = train(
        trial, data, data.default_indices(seed=5), on_snapshot=snapshots.append, **options
    )
    return outcome, snapshots


def checksums(snapshot: Snapshot) -> list[str]:
    return [tensor.checksum for tensor in snapshot.tensors()]


def fork_of(parent: Learner, epoch: int, **overrides) -> Learner:
    return Learner(
        experiment_id=parent.experiment_id,
        learner_type=parent.learner_type,
        hyper_parameters=check_fork_overrides(parent.hyper_parameters, overrides),
        seed=parent.seed,
        parent_learner_id=parent.id,
        parent_epoch=epoch,
        id=new_id(),
    )


def pause_at(count: int):
    """Return a should_stop that answers True at its `count`-th question (zero-based)."""
    asked = iter(range(10**6))
    return lambda: next(asked) == count


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    stopping = EarlyStopping(patience=2)
    losses = [1.0, 0.8, 0.9, 0.95, 0.97]

    stops = []
    for epoch, loss in enumerate(losses):
        stops.append(stopping.update(epoch, loss))
        if stops[-1]:
            break

    assert stops == [False, False, False, True]  # the fifth epoch never runs
    assert (stopping.best_epoch, stopping.best_loss, stopping.bad_epochs) == (1, 0.8, 2)


def test_early_stopping_never_counts_nan_as_improvement_and_round_trips():
    stopping = EarlyStopping(patience=3)
    stopping.update(0, math.nan)
    stopping.update(1, 0.5)
    stopping.update(2, math.inf)

    restored = EarlyStopping(patience=1)
    restored.load_state_dict(stopping.state_dict())

    assert (restored.best_epoch, restored.best_loss, restored.bad_epochs) == (1, 0.5, 1)
    assert restored.update(3, math.nan) is False
    assert restored.update(4, 0.6) is True


def test_mlp_on_digits_learns_and_snapshots_every_epoch(digits):
    trial = learner(hidden_nodes=[32], batch_size=32, max_epochs=4)

    outcome, snapshots = run(trial, digits)

    assert outcome.status == "completed"
    assert outcome.reason == "reached max_epochs (4)"
    assert [snapshot.epoch for snapshot in snapshots] == [0, 1, 2, 3]
    assert [snapshot.updates for snapshot in snapshots] == [34, 68, 102, 136]  # 1,078 rows / 32
    assert outcome.updates == 136 and outcome.epochs == 4
    last = snapshots[-1]
    assert last.learner_id == trial.id and last.experiment_id == trial.experiment_id
    assert last.performance.valid.accuracy > 0.9
    assert last.performance.train.loss < snapshots[0].performance.train.loss
    matrix = last.performance.test.confusion_matrix
    assert matrix.labels == list(range(10))
    assert sum(map(sum, matrix.counts)) == 360
    assert [layer.configuration.label for layer in last.layers] == ["hidden_0", "output"]
    assert [tensor.shape for tensor in last.layers[0].tensors] == [(32, 64), (32,)]
    assert last.training_state.dtype == "uint8"
    assert outcome.performance == snapshots[outcome.best_epoch].performance
    best_layers = snapshots[outcome.best_epoch].layers
    assert [t.checksum for layer in outcome.layers for t in layer.tensors] == [
        t.checksum for layer in best_layers for t in layer.tensors
    ]
    assert last.to_document()["performance"]["valid"]["f1"] == last.performance.valid.f1


def test_the_training_state_holds_what_resuming_needs(digits):
    _, snapshots = run(learner(max_epochs=1, lr_step_size=1), digits)

    state = decode_state(snapshots[0].training_state.values)

    assert {
        "optimiser",
        "scheduler",
        "early_stopping",
        "epoch",
        "updates",
        "rng",
        "batch_order",
    } <= set(state)
    assert state["epoch"] == 0 and state["updates"] == 34
    assert set(state["rng"]) == {"python", "numpy", "torch"}
    assert snapshots[0].training_state.stats is None  # opaque bytes have no statistics


def test_training_state_is_bson_that_loads_without_running_code():
    state = {
        "optimiser": {
            "state": {0: {"momentum_buffer": torch.arange(6.0).reshape(2, 3)}},
            "param_groups": [{"lr": 0.1, "params": [0]}],
        },
        "rng": {"python": random.getstate(), "numpy": np.random.get_state()},
    }

    back = decode_state(encode_state(state))

    assert torch.equal(
        back["optimiser"]["state"][0]["momentum_buffer"],
        state["optimiser"]["state"][0]["momentum_buffer"],
    )
    assert back["optimiser"]["param_groups"] == state["optimiser"]["param_groups"]
    assert back["rng"]["python"] == state["rng"]["python"]
    assert np.array_equal(back["rng"]["numpy"][1], state["rng"]["numpy"][1])
    with pytest.raises(ValidationError, match="training_state"):
        decode_state(b"\x80\x04not bson")


def test_same_learner_and_seed_give_identical_numbers(digits):
    trial = learner(seed=2**45 + 17, regularisation="dropout", dropout=0.3, max_epochs=2)

    _, first = run(trial, digits)
    _, second = run(trial, digits)
    _, other_seed = run(
        learner(seed=2**45 + 18, regularisation="dropout", dropout=0.3, max_epochs=2), digits
    )

    assert [checksums(s) for s in first] == [checksums(s) for s in second]
    assert [s.performance for s in first] == [s.performance for s in second]
    assert checksums(first[0]) != checksums(other_seed[0])


@pytest.mark.parametrize(
    ("learner_type", "dataset", "values"),
    [
        (
            "mlp",
            "digits",
            {
                "regularisation": "dropout",
                "dropout": 0.2,
                "n_hidden_layers": 2,
                "hidden_nodes": [16, 16],
            },
        ),
        ("mlp", "digits", {"regularisation": "l2", "lambda_": 1e-3, "batch_size": 64}),
        ("lstm", "sunspots", {"hidden_nodes": [8], "batch_size": 16, "truncate_gradient": 4}),
    ],
)
def test_resume_continues_bit_for_bit(learner_type, dataset, values, request):
    data = request.getfixturevalue(dataset)
    trial = learner(learner_type, max_epochs=7, lr_step_size=2, lr_gamma=0.5, patience=10, **values)

    _, uninterrupted = run(trial, data)
    paused, before = run(trial, data, should_stop=pause_at(3))
    outcome, after = run(trial, data, start_from=before[-1])

    assert (paused.status, before[-1].epoch) == ("paused", 3)  # right after the second decay
    assert (
        decode_state(before[-1].training_state.values)["optimiser"]["param_groups"][0]["lr"]
        == 0.05 * 0.5 * 0.5
    )
    assert [s.epoch for s in after] == [4, 5, 6]
    assert [checksums(s) for s in after] == [checksums(s) for s in uninterrupted[4:]]
    assert [s.performance for s in after] == [s.performance for s in uninterrupted[4:]]
    assert [s.updates for s in after] == [s.updates for s in uninterrupted[4:]]
    assert outcome.epochs == 7


def test_a_snapshot_inside_an_epoch_follows_every_n_updates_but_never_the_last_batch(digits):
    trial = learner(max_epochs=2)  # 34 batches an epoch

    outcome, snapshots = run(trial, digits, snapshot_every_updates=17)
    _, every_ten = run(trial, digits, snapshot_every_updates=10)
    _, only_epochs = run(trial, digits)

    assert [(s.epoch, s.batch, s.updates) for s in snapshots] == [
        (0, 17, 17),
        (0, None, 34),  # update 34 ends the epoch: its end-of-epoch snapshot only
        (1, 17, 51),
        (1, None, 68),
    ]
    assert [(s.epoch, s.batch) for s in every_ten] == [
        (0, 10),
        (0, 20),
        (0, 30),
        (0, None),
        (1, 6),
        (1, 16),
        (1, 26),
        (1, None),
    ]
    inside = snapshots[0]
    assert inside.performance == LearnerPerformance() and not inside.end_of_epoch
    assert [layer.configuration.label for layer in inside.layers] == ["hidden_0", "output"]
    state = decode_state(inside.training_state.values)
    assert (state["epoch"], state["batch"], state["in_epoch"]["batch"]) == (0, 17, 17)
    assert state["in_epoch"]["rows"] == 17 * 32 and state["in_epoch"]["loss_sum"] > 0
    # snapshotting inside epochs changes nothing about the end-of-epoch snapshots
    ends = [s for s in snapshots if s.end_of_epoch]
    assert [checksums(s) for s in ends] == [checksums(s) for s in only_epochs]
    assert outcome.updates == 68


def test_a_pause_inside_an_epoch_resumes_with_the_same_batches_bit_for_bit(digits):
    trial = learner(max_epochs=4, regularisation="dropout", dropout=0.2)
    every_update = {"snapshot_every_updates": 1}
    # 34 questions an epoch (33 inside, 1 at its end): question 70 is after batch 3 of epoch 2
    _, uninterrupted = run(trial, digits, **every_update)
    paused, before = run(trial, digits, should_stop=pause_at(70), **every_update)
    resumed, after = run(trial, digits, start_from=before[-1], **every_update)

    assert (paused.status, paused.reason) == ("paused", "paused after batch 3 of epoch 2")
    assert (before[-1].epoch, before[-1].batch, before[-1].updates) == (2, 3, 71)
    assert len(before) == 71 and len(after) == 2 * 34 - 3
    assert [(s.epoch, s.batch) for s in after][:2] == [(2, 4), (2, 5)]
    # one snapshot after every update: equal weights after each one mean equal batches
    assert [checksums(s) for s in after] == [checksums(s) for s in uninterrupted[71:]]
    assert [s.performance for s in after] == [s.performance for s in uninterrupted[71:]]
    assert len({checksums(s)[0] for s in after}) == len(after)  # every update moved weights
    assert (resumed.status, resumed.epochs, resumed.updates) == ("completed", 4, 136)


def test_a_pause_in_the_first_epoch_resumes_like_no_pause(digits):
    trial = learner(max_epochs=2)

    straight, uninterrupted = run(trial, digits)
    paused, before = run(trial, digits, snapshot_every_updates=5, should_stop=lambda: True)
    resumed, after = run(trial, digits, start_from=before[-1])

    assert (paused.status, paused.epochs, paused.best_epoch) == ("paused", 0, None)
    assert [(s.epoch, s.batch) for s in before] == [(0, 5)]
    assert [checksums(s) for s in after] == [checksums(s) for s in uninterrupted]
    assert (resumed.best_epoch, resumed.performance) == (straight.best_epoch, straight.performance)


def test_a_version_2_training_state_still_resumes_and_an_unknown_one_is_refused(digits):
    trial = learner(max_epochs=3)
    _, uninterrupted = run(trial, digits)
    _, before = run(trial, digits, should_stop=pause_at(0))
    state = decode_state(before[-1].training_state.values)
    for key in ("batch", "in_epoch", "alpha", "batch_size"):
        del state[key]

    old = Snapshot(**{**before[-1].__dict__, "training_state": None})
    old.training_state = Tensor.of_bytes("training_state", encode_state({**state, "version": 2}))
    _, after = run(trial, digits, start_from=old)
    old.training_state = Tensor.of_bytes("training_state", encode_state({**state, "version": 1}))

    assert [s.performance for s in after] == [s.performance for s in uninterrupted[1:]]
    with pytest.raises(ValidationError) as caught:
        run(trial, digits, start_from=old)
    assert caught.value.field == "start_from.training_state.version"


def test_should_stop_pauses_at_a_snapshot_boundary_and_resume_finishes(digits):
    trial = learner(max_epochs=5)
    asked = []

    paused, snapshots = run(
        trial, digits, snapshot_every=2, should_stop=lambda: asked.append(1) or True
    )
    finished, rest = run(trial, digits, snapshot_every=2, start_from=snapshots[-1])
    straight, uninterrupted = run(trial, digits, snapshot_every=2)

    assert (paused.status, paused.reason, paused.epochs) == ("paused", "paused after epoch 1", 2)
    assert [s.epoch for s in snapshots] == [1] and len(asked) == 1
    assert finished.status == "completed"
    assert [s.epoch for s in rest] == [3, 4]  # every second epoch, and always the last
    assert [checksums(s) for s in rest] == [checksums(s) for s in uninterrupted[1:]]
    assert (finished.best_epoch, finished.performance) == (
        straight.best_epoch,
        straight.performance,
    )


def test_early_stopping_ends_training_patience_epochs_after_the_best(digits):
    trial = learner(alpha=0.1, momentum=0.9, patience=2, max_epochs=40)

    outcome, snapshots = run(trial, digits)

    assert outcome.status == "stopped_early"
    assert outcome.epochs == outcome.best_epoch + 3
    assert snapshots[-1].epoch == outcome.best_epoch + 2
    losses = [s.performance.valid.loss for s in snapshots]
    assert losses[outcome.best_epoch] == min(losses)
    assert (
        outcome.reason
        == f"validation loss did not improve for 2 epochs after epoch {outcome.best_epoch}"
    )


def test_the_best_epoch_survives_a_pause_after_it(digits):
    trial = learner(alpha=0.1, momentum=0.9, patience=2, max_epochs=40)
    straight, _ = run(trial, digits)
    pause_after = straight.best_epoch + 1
    asked = iter(range(100))

    _, before = run(trial, digits, should_stop=lambda: next(asked) == pause_after)
    resumed, _ = run(trial, digits, start_from=before[-1])

    assert before[-1].epoch == pause_after
    assert (resumed.status, resumed.best_epoch) == ("stopped_early", straight.best_epoch)
    assert resumed.performance == straight.performance
    assert [t.checksum for layer in resumed.layers for t in layer.tensors] == [
        t.checksum for layer in straight.layers for t in layer.tensors
    ]


def test_max_updates_can_end_an_epoch_early(digits):
    outcome, snapshots = run(learner(max_updates=50, max_epochs=10), digits)

    assert (outcome.status, outcome.reason) == ("completed", "reached max_updates (50)")
    assert [s.updates for s in snapshots] == [34, 50]
    assert outcome.epochs == 2


def test_a_diverging_learner_fails_with_the_epoch_and_keeps_nan():
    data = load_dataset("breast_cancer")

    outcome, snapshots = run(learner(alpha=1e6, momentum=0.0, max_epochs=5), data)

    assert outcome.status == "failed"
    assert re.fullmatch(r"(training|validation) loss became (nan|inf) at epoch 0", outcome.reason)
    assert len(snapshots) == 1 and snapshots[0].epoch == 0
    assert not math.isfinite(snapshots[0].performance.valid.loss)
    assert outcome.best_epoch is None


@pytest.mark.parametrize("learner_type", ["rnn", "lstm", "gru"])
def test_recurrent_learners_train_on_sunspots(learner_type, sunspots):
    trial = learner(
        learner_type, hidden_nodes=[8], batch_size=16, truncate_gradient=5, alpha=0.01, max_epochs=3
    )

    outcome, snapshots = run(trial, sunspots)

    valid = snapshots[-1].performance.valid
    assert outcome.status == "completed"
    assert valid.accuracy is None and valid.mse > 0 and valid.mae > 0
    assert valid.mse < 5 * float(np.var(sunspots.targets))  # original scale, not standardized
    assert valid.loss < snapshots[0].performance.valid.loss * 1.5
    configuration = snapshots[-1].layers[0].configuration
    assert (configuration.kind, configuration.inputs, configuration.outputs) == (learner_type, 1, 8)
    names = [tensor.name for tensor in snapshots[-1].layers[0].tensors]
    assert names == ["weights", "weights_hh", "biases", "biases_hh"]


def test_truncated_backpropagation_reaches_only_the_last_steps():
    hp = HyperParameters(hidden_nodes=[6], truncate_gradient=3, activation="tanh")
    for learner_type in ("rnn", "lstm", "gru"):
        module = build_learner(learner_type, 2, 1, hp, generator=torch.Generator().manual_seed(0))
        inputs = torch.randn(4, 10, 2, requires_grad=True)

        module(inputs).sum().backward()

        reached = inputs.grad.abs().sum(dim=(0, 2))
        assert (reached[:7] == 0).all(), learner_type
        assert (reached[7:] > 0).all(), learner_type


def test_initialisation_is_glorot_with_zero_biases_and_he_for_relu_recurrence():
    hp = HyperParameters(hidden_nodes=[50], activation="relu")

    mlp = build_learner("mlp", 64, 10, hp, generator=torch.Generator().manual_seed(1))
    elman = build_learner("rnn", 3, 1, hp, generator=torch.Generator().manual_seed(1))

    hidden = mlp.hidden[0]
    glorot = math.sqrt(6 / (64 + 50))
    assert hidden.weight.abs().max() <= glorot and hidden.weight.abs().max() > 0.9 * glorot
    assert (hidden.bias == 0).all() and (mlp.output.bias == 0).all()
    recurrent = elman.recurrent[0].weight_hh
    he = math.sqrt(6 / 50)
    assert recurrent.abs().max() <= he and recurrent.abs().max() > math.sqrt(6 / 100)


def test_layers_round_trip_into_a_fresh_module_bit_for_bit(sunspots):
    hp = HyperParameters(hidden_nodes=[5, 4], n_hidden_layers=2)
    trained = build_learner("gru", 1, 1, hp, generator=torch.Generator().manual_seed(1))
    fresh = build_learner("gru", 1, 1, hp, generator=torch.Generator().manual_seed(2))
    inputs = torch.from_numpy(sunspots.features[:8])

    load_layers(fresh, layers_of(trained))

    assert [t.checksum for layer in layers_of(fresh) for t in layer.tensors] == [
        t.checksum for layer in layers_of(trained) for t in layer.tensors
    ]
    assert torch.equal(fresh(inputs), trained(inputs))
    assert [c.label for c in layer_configurations(fresh)] == ["hidden_0", "hidden_1", "output"]


def test_load_layers_rejects_a_wrong_shape():
    small = build_learner("mlp", 4, 2, HyperParameters(hidden_nodes=[3]))
    large = build_learner("mlp", 4, 2, HyperParameters(hidden_nodes=[5]))

    with pytest.raises(ValidationError) as caught:
        load_layers(small, layers_of(large))

    assert caught.value.field == "layers.hidden_0.weights"


def test_hyper_parameters_for_fills_layers_and_batch_counts(digits):
    hp = HyperParameters(hidden_nodes=[32], batch_size=32)

    filled = hyper_parameters_for("mlp", hp, digits, digits.default_indices(seed=5))

    assert (filled.n_train_batches, filled.n_valid_batches, filled.n_test_batches) == (34, 12, 12)
    assert [(c.label, c.inputs, c.outputs, c.activation) for c in filled.layers] == [
        ("hidden_0", 64, 32, "relu"),
        ("output", 32, 10, None),
    ]


def test_recurrent_learners_need_a_windowed_dataset(digits):
    with pytest.raises(ValidationError) as caught:
        run(learner("lstm"), digits)

    assert caught.value.field == "learner_type"


def test_seeds_of_any_size_reduce_to_torch_range():
    for seed in (0, 1, 2**40, 2**64 + 5, 10**30, -3):
        first, second = seeds(seed)
        assert 0 <= first < 2**63 and 0 <= second < 2**63 and first != second
    assert seeds(2**64 + 5) != seeds(5)


def test_a_fork_with_the_parent_hyper_parameters_repeats_its_later_epochs(digits):
    parent = learner(max_epochs=5, lr_step_size=2, lr_gamma=0.5)
    _, lineage = run(parent, digits)

    fork = fork_of(parent, 2)
    outcome, snapshots = run(fork, digits, start_from=lineage[2])

    assert fork.hyper_parameters.hp_opt_method == "fork"
    assert [s.epoch for s in snapshots] == [3, 4]
    assert all(s.learner_id == fork.id for s in snapshots)
    assert [checksums(s) for s in snapshots] == [checksums(s) for s in lineage[3:]]
    assert [s.performance for s in snapshots] == [s.performance for s in lineage[3:]]
    assert outcome.epochs == 5


def test_a_fork_trains_on_with_its_own_rate_momentum_and_schedule(digits):
    parent = learner(max_epochs=5, lr_step_size=2, lr_gamma=0.5)
    rates = []
    _, lineage = run(parent, digits, progress=lambda epoch, values: rates.append(values["lr"]))

    fork = fork_of(parent, 2, alpha=0.025, momentum=0.5)
    fork_rates = []
    _, snapshots = run(
        fork,
        digits,
        start_from=lineage[2],
        progress=lambda epoch, values: fork_rates.append(values["lr"]),
    )

    # the rate keeps the decay so far (one halving after epoch 1) and the schedule's place
    assert rates == [0.05, 0.025, 0.025, 0.0125, 0.0125]
    assert fork_rates == [0.00625, 0.00625] == [rate / 2 for rate in rates[3:]]
    groups = decode_state(snapshots[0].training_state.values)["optimiser"]["param_groups"]
    assert (groups[0]["lr"], groups[0]["momentum"]) == (0.00625, 0.5)
    assert checksums(snapshots[0])[0] != checksums(lineage[3])[0]
    assert snapshots[0].performance != lineage[3].performance


def test_a_fork_with_more_patience_goes_on_where_its_parent_stopped(digits):
    parent = learner(alpha=0.1, momentum=0.9, patience=2, max_epochs=40)
    stopped, lineage = run(parent, digits)

    fork = fork_of(parent, lineage[-1].epoch, patience=4, max_epochs=lineage[-1].epoch + 3)
    outcome, snapshots = run(fork, digits, start_from=lineage[-1])

    assert stopped.status == "stopped_early"
    assert [s.epoch for s in snapshots] == [lineage[-1].epoch + 1, lineage[-1].epoch + 2]
    stopping = decode_state(snapshots[0].training_state.values)["early_stopping"]
    assert stopping["patience"] == 4
    if stopping["improved"]:
        assert (stopping["best_epoch"], stopping["bad_epochs"]) == (snapshots[0].epoch, 0)
    else:  # the parent's best and its two epochs without improvement carry over
        assert (stopping["best_epoch"], stopping["bad_epochs"]) == (stopped.best_epoch, 3)
    assert outcome.status in ("completed", "stopped_early")


def test_a_fork_may_not_change_the_architecture_or_the_batch_size():
    parent = HyperParameters(hidden_nodes=[32], batch_size=32, alpha=0.1)

    for name, value in [
        ("hidden_nodes", [64]),
        ("n_hidden_layers", 2),
        ("activation", "tanh"),
        ("batch_size", 64),
        ("learner_type", "lstm"),
    ]:
        with pytest.raises(ValidationError) as caught:
            check_fork_overrides(parent, {name: value})
        assert caught.value.field == f"hyper_parameters.{name}"
        assert "may override alpha, momentum" in caught.value.message

    same_architecture = check_fork_overrides(
        parent, {"hidden_nodes": [32], "lambda": 0.01, "regularisation": "l2", "alpha": 0.05}
    )
    assert (same_architecture.alpha, same_architecture.lambda_) == (0.05, 0.01)
    assert same_architecture.hp_opt_method == "fork" and parent.hp_opt_method == "random"
    with pytest.raises(ValidationError, match="hyper_parameters.alpha"):
        check_fork_overrides(parent, {"alpha": -1.0})


def test_training_refuses_a_snapshot_of_another_batch_size_or_activation(digits):
    _, lineage = run(learner(max_epochs=1), digits)

    with pytest.raises(ValidationError) as other_batches:
        run(learner(max_epochs=3, batch_size=64), digits, start_from=lineage[0])
    with pytest.raises(ValidationError) as other_activation:
        run(learner(max_epochs=3, activation="tanh"), digits, start_from=lineage[0])

    assert other_batches.value.field == "hyper_parameters.batch_size"
    assert other_activation.value.field == "start_from.layers"


def test_load_module_gives_the_snapshot_test_scores_without_the_dataset(digits):
    trial = learner(max_epochs=2)
    _, snapshots = run(trial, digits)
    test = digits.splits(digits.default_indices(seed=5)).test

    module, optimiser = load_module(trial, snapshots[-1])
    with torch.no_grad():
        outputs = module(torch.from_numpy(test.features))
    targets = torch.from_numpy(test.targets)

    assert not module.training
    # the same operations on the same rows: equal bit for bit, not only to float tolerance
    assert float(torch.nn.functional.cross_entropy(outputs, targets)) == (
        snapshots[-1].performance.test.loss
    )
    accuracy = float((outputs.argmax(dim=1) == targets).double().mean())
    assert accuracy == snapshots[-1].performance.test.accuracy
    saved = decode_state(snapshots[-1].training_state.values)["optimiser"]
    assert optimiser.param_groups[0]["lr"] == 0.05 and optimiser.param_groups[0]["momentum"] == 0.9
    buffers = [optimiser.state[p]["momentum_buffer"] for p in module.parameters()]
    assert all(
        torch.equal(a, b["momentum_buffer"])
        for a, b in zip(buffers, saved["state"].values(), strict=True)
    )


def test_load_module_without_a_training_state_gives_a_fresh_optimiser(digits):
    trial = learner(max_epochs=1)
    _, snapshots = run(trial, digits)
    weights_only = Snapshot(**{**snapshots[0].__dict__, "training_state": None})

    module, optimiser = load_module(trial, weights_only, digits)

    assert optimiser.state_dict()["state"] == {}
    assert [t.checksum for layer in layers_of(module) for t in layer.tensors] == checksums(
        weights_only
    )
