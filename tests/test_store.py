"""The store: the POL model in and out of MongoDB, exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pol.errors import ConflictError, InvalidIdError, NotFoundError, StateError
from pol.model import (
    Dataset,
    Experiment,
    FloatBound,
    HyperParameters,
    HyperParamSearchSpace,
    Indices,
    Layer,
    LayerConfiguration,
    Learner,
    LearnerPerformance,
    Performance,
    Snapshot,
    Tensor,
)
from pol.store.store import CHUNK_BYTES


def new_experiment(store) -> Experiment:
    return store.insert_experiment(
        Experiment(
            name="wine search",
            dataset=Dataset(
                "wine",
                "sklearn.datasets.load_wine",
                178,
                ["alcohol"],
                "class",
                "classification",
                labels=[0, 1, 2],
            ),
            indices=Indices.split(178, seed=1),
            search_space=HyperParamSearchSpace({"alpha": FloatBound(1e-3, 0.5, log=True)}),
        )
    )


def new_learners(store, experiment, count=1, **values) -> list[Learner]:
    return store.insert_learners(
        [
            Learner(
                experiment_id=experiment.id,
                learner_type="mlp",
                hyper_parameters=HyperParameters(**values),
                seed=number,
                configuration=number,
            )
            for number in range(count)
        ]
    )


def snapshot_of(learner, epoch, *, loss=0.5, updates=100, tensors=None) -> Snapshot:
    tensors = tensors or [Tensor.from_numpy("weights", np.full((4, 3), epoch, np.float32))]
    return Snapshot(
        learner_id=learner.id,
        experiment_id=learner.experiment_id,
        epoch=epoch,
        updates=updates,
        elapsed=0.1 * epoch,
        performance=LearnerPerformance(valid=Performance("valid", loss=loss, accuracy=0.9)),
        layers=[Layer(LayerConfiguration(0, "hidden_0", "linear", 4, 3, "relu"), tensors)],
    )


def test_experiment_is_stored_and_read_back(store):
    experiment = new_experiment(store)

    back = store.experiment(experiment.id)

    assert back == experiment
    assert back.created_at.utcoffset().total_seconds() == 0
    assert [item.id for item in store.list_experiments()] == [experiment.id]


def test_unknown_and_malformed_ids_are_clear_errors(store):
    with pytest.raises(NotFoundError, match="experiment 0123456789abcdef01234567 does not exist"):
        store.experiment("0123456789abcdef01234567")
    with pytest.raises(InvalidIdError):
        store.learner("42")


def test_seed_of_2_to_the_40_and_updates_past_2_to_the_31_round_trip(store):
    experiment = new_experiment(store)
    learner = store.insert_learners(
        [
            Learner(
                experiment_id=experiment.id,
                learner_type="mlp",
                hyper_parameters=HyperParameters(),
                seed=2**40,
            )
        ]
    )[0]

    store.write_snapshot(snapshot_of(learner, 0, updates=2**31 + 7))

    assert store.learner(learner.id).seed == 2**40
    assert store.snapshot(learner.id, 0).updates == 2**31 + 7
    assert store.learner(learner.id).updates == 2**31 + 7


def test_numpy_values_are_stored_as_plain_numbers(store):
    experiment = new_experiment(store)
    learner = new_learners(store, experiment, batch_size=np.int64(16))[0]

    store.write_snapshot(snapshot_of(learner, 0, loss=np.float32(0.25)))

    raw = store.learners.find_one({})
    assert type(raw["hyper_parameters"]["batch_size"]) is int
    assert type(store.snapshots.find_one({})["performance"]["valid"]["loss"]) is float


def test_nan_validation_loss_is_stored_as_nan(store, over_the_wire):
    if over_the_wire:
        pytest.skip("the wire-protocol test server's SQLite engine rejects non-finite doubles")
    experiment = new_experiment(store)
    learner = new_learners(store, experiment)[0]

    store.write_snapshot(snapshot_of(learner, 3, loss=float("nan")))

    assert math.isnan(store.snapshot(learner.id, 3).performance.valid.loss)


def test_a_snapshot_is_never_overwritten(store):
    experiment = new_experiment(store)
    learner = new_learners(store, experiment)[0]
    store.write_snapshot(snapshot_of(learner, 0, loss=0.5))

    with pytest.raises(ConflictError, match="already has a different snapshot of epoch 0"):
        store.write_snapshot(snapshot_of(learner, 0, loss=0.1))

    assert store.snapshot(learner.id, 0).performance.valid.loss == 0.5
    assert store.snapshots.count_documents({}) == 1


def test_writing_the_same_snapshot_again_changes_nothing(store):
    experiment = new_experiment(store)
    learner = new_learners(store, experiment)[0]
    first = store.write_snapshot(snapshot_of(learner, 0, loss=0.3))

    again = store.write_snapshot(snapshot_of(learner, 0, loss=0.3))

    assert again.id == first.id
    assert store.snapshots.count_documents({}) == 1


def test_snapshot_tensors_come_back_bit_exact(store):
    experiment = new_experiment(store)
    learner = new_learners(store, experiment)[0]
    weights = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    snapshot = snapshot_of(learner, 0, tensors=[Tensor.from_numpy("weights", weights)])

    store.write_snapshot(snapshot)
    back = store.snapshot(learner.id, 0, values=True)

    assert np.array_equal(back.layers[0].tensors[0].to_numpy(), weights)
    assert back.layers[0].tensors[0].checksum == snapshot.layers[0].tensors[0].checksum


def test_a_20_mb_tensor_is_stored_in_chunks_and_read_back_bit_exact(store):
    experiment = new_experiment(store)
    learner = new_learners(store, experiment)[0]
    weights = np.random.default_rng(1).standard_normal((2500, 2000)).astype(np.float32)
    tensor = Tensor.from_numpy("weights", weights)

    store.write_snapshot(snapshot_of(learner, 0, tensors=[tensor]))
    back = store.snapshot(learner.id, 0, values=True).layers[0].tensors[0]

    assert tensor.nbytes == 20_000_000
    assert store.tensor_chunks.count_documents({"checksum": tensor.checksum}) == math.ceil(
        tensor.nbytes / CHUNK_BYTES
    )
    assert back.values == tensor.values
    assert np.array_equal(back.to_numpy(), weights)


def test_equal_tensors_are_stored_once(store):
    experiment = new_experiment(store)
    learner = new_learners(store, experiment)[0]
    same = Tensor.from_numpy("weights", np.ones((4, 3), np.float32))

    store.write_snapshot(snapshot_of(learner, 0, tensors=[same]))
    store.write_snapshot(snapshot_of(learner, 1, tensors=[same]))

    assert store.tensor_chunks.count_documents({"checksum": same.checksum}) == 1


def test_snapshots_of_a_learner_in_an_epoch_range(store):
    experiment = new_experiment(store)
    learner = new_learners(store, experiment)[0]
    for epoch in (2, 0, 1, 3):
        store.write_snapshot(snapshot_of(learner, epoch))

    assert [item.epoch for item in store.snapshots_of(learner.id)] == [0, 1, 2, 3]
    assert [item.epoch for item in store.snapshots_of(learner.id, first_epoch=1, last_epoch=2)] == [
        1,
        2,
    ]
    assert store.latest_snapshot(learner.id).epoch == 3
    assert store.learner(learner.id).epochs == 4


def test_claim_takes_each_queued_learner_once_oldest_first(store):
    experiment = new_experiment(store)
    learners = new_learners(store, experiment, count=3)

    claimed = [store.claim_learner(f"worker-{n}") for n in range(4)]

    assert [item.id for item in claimed[:3]] == [item.id for item in learners]
    assert claimed[3] is None
    assert store.count_learners(experiment.id)["running"] == 3


def test_status_change_from_a_wrong_status_changes_nothing(store):
    experiment = new_experiment(store)
    learner = new_learners(store, experiment)[0]

    with pytest.raises(StateError, match="is queued"):
        store.set_status(learner.id, "paused", expected=["running"])

    assert store.learner(learner.id).status == "queued"


def test_finishing_a_learner_records_its_best_layers(store):
    experiment = new_experiment(store)
    learner = new_learners(store, experiment)[0]
    best = snapshot_of(learner, 1, loss=0.2)

    store.finish_learner(
        learner.id,
        status="stopped_early",
        reason=None,
        performance=best.performance,
        layers=best.layers,
        best_epoch=1,
    )
    back = store.learner(learner.id)

    assert (back.status, back.trained, back.best_epoch) == ("stopped_early", True, 1)
    assert back.performance.valid.loss == 0.2
    tensor = store.tensor_values(back.layers[0].tensors[0])
    assert np.array_equal(tensor.to_numpy(), np.ones((4, 3), np.float32))


def test_writes_are_majority_journaled_and_analytics_prefer_secondaries(store, over_the_wire):
    if not over_the_wire:
        assert store.analytics_database is store.database  # one copy of the data: no choice
        return
    from pymongo import ReadPreference

    assert store.snapshots.write_concern.document == {"w": "majority", "j": True}
    assert store.learners.write_concern.document == {"w": "majority", "j": True}
    assert store.analytics_database.read_preference == ReadPreference.SECONDARY_PREFERRED


def test_a_uri_that_chooses_its_write_concern_keeps_it():
    from pol.store import _durable_defaults

    assert _durable_defaults("mongodb://db.example/pol") == {"w": "majority", "journal": True}
    assert _durable_defaults("mongodb://db.example/pol?w=1") == {}
