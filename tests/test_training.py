"""Training real learners on real data: snapshots, early stopping, seeds, resume, failure."""

from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest
import torch

from pol.errors import ValidationError
from pol.model import HyperParameters, Learner, Snapshot
from pol.model.ids import new_id
from pol.training import (
    EarlyStopping,
    build_learner,
    hyper_parameters_for,
    layer_configurations,
    layers_of,
    load_dataset,
    load_layers,
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
    state = {"optimiser": {"state": {0: {"momentum_buffer": torch.arange(6.0).reshape(2, 3)}},
                           "param_groups": [{"lr": 0.1, "params": [0]}]},
             "rng": {"python": random.getstate(), "numpy": np.random.get_state()}}

    back = decode_state(encode_state(state))

    assert torch.equal(back["optimiser"]["state"][0]["momentum_buffer"],
                       state["optimiser"]["state"][0]["momentum_buffer"])
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
    straight = learner(
        learner_type, max_epochs=6, lr_step_size=2, lr_gamma=0.5, patience=10, **values
    )
    first_half = learner(
        learner_type, max_epochs=3, lr_step_size=2, lr_gamma=0.5, patience=10, **values
    )

    _, uninterrupted = run(straight, data)
    _, before = run(first_half, data)
    outcome, after = run(straight, data, start_from=before[-1])

    assert [s.epoch for s in after] == [3, 4, 5]
    assert [checksums(s) for s in after] == [checksums(s) for s in uninterrupted[3:]]
    assert [s.performance for s in after] == [s.performance for s in uninterrupted[3:]]
    assert [s.updates for s in after] == [s.updates for s in uninterrupted[3:]]
    assert outcome.epochs == 6


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
