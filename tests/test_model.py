"""The document model: validation and one canonical document form per class."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from pol.errors import InvalidIdError, ValidationError
from pol.model import (
    CategoricalBound,
    ConfusionMatrix,
    Dataset,
    Experiment,
    FloatBound,
    HyperParameters,
    HyperParamSearchSpace,
    Indices,
    IntBound,
    Layer,
    LayerConfiguration,
    Learner,
    LearnerPerformance,
    Performance,
    Snapshot,
    Tensor,
)
from pol.model.ids import new_id, object_id


def digits_experiment() -> Experiment:
    return Experiment(
        name="digits search",
        dataset=Dataset(
            "digits",
            "sklearn.datasets.load_digits",
            10,
            ["p0"],
            "digit",
            "classification",
            labels=list(range(10)),
        ),
        indices=Indices.split(10, seed=7),
        search_space=HyperParamSearchSpace(
            {
                "alpha": FloatBound(1e-4, 0.9, log=True),
                "hidden_nodes": IntBound(1, 10),
                "activation": CategoricalBound(("relu", "logistic")),
            }
        ),
    )


def test_experiment_round_trips_through_its_document():
    experiment = digits_experiment()
    experiment.id = new_id()

    document = experiment.to_document()
    back = Experiment.from_document(document)

    assert back == experiment
    assert document["search_space"]["alpha"] == {
        "kind": "float",
        "low": 1e-4,
        "high": 0.9,
        "log": True,
    }
    assert document["created_at"].tzinfo is not None


def test_indices_split_is_reproducible_and_covers_every_row_once():
    first = Indices.split(1797, seed=3)
    second = Indices.split(1797, seed=3)

    assert first == second
    assert sorted(first.train + first.valid + first.test) == list(range(1797))
    assert first.sizes() == {"train": 1078, "valid": 359, "test": 360}


def test_numpy_hyper_parameters_and_metrics_become_plain_numbers():
    hyper_parameters = HyperParameters(
        batch_size=np.int64(64), alpha=np.float32(0.5), hidden_nodes=[np.int64(8)]
    )
    performance = Performance("valid", loss=np.float32(0.25), accuracy=np.float64(0.75))

    document = hyper_parameters.to_document()
    metrics = performance.to_document()

    assert type(document["batch_size"]) is int and document["batch_size"] == 64
    assert type(document["alpha"]) is float and document["alpha"] == 0.5
    assert type(document["hidden_nodes"][0]) is int
    assert type(metrics["loss"]) is float and metrics["loss"] == 0.25


def test_non_finite_metrics_are_kept_as_they_are():
    performance = Performance("valid", loss=float("nan"), mse=float("inf"))

    back = Performance.from_document(performance.to_document())

    assert math.isnan(back.loss)
    assert back.mse == math.inf


def test_learner_keeps_64_bit_seed_and_counts():
    learner = Learner(
        experiment_id=new_id(),
        learner_type="lstm",
        hyper_parameters=HyperParameters(),
        seed=2**40,
        updates=2**31 + 5,
    )

    back = Learner.from_document(learner.to_document())

    assert back.seed == 2**40
    assert back.updates == 2**31 + 5


def test_tensor_keeps_little_endian_bytes_and_stats():
    big_endian = np.arange(6, dtype=">f4").reshape(2, 3)

    tensor = Tensor.from_numpy("weights", big_endian)

    assert tensor.dtype == "float32"
    assert tensor.values == np.arange(6, dtype="<f4").tobytes()
    assert tensor.to_numpy().tolist() == [[0, 1, 2], [3, 4, 5]]
    assert tensor.stats.max == 5.0 and tensor.stats.mean == 2.5
    assert tensor.nbytes == 24


def test_tensor_metadata_without_values_knows_its_size():
    tensor = Tensor.from_numpy("biases", np.zeros(10, dtype=np.float64))

    metadata_only = Tensor.from_metadata(tensor.metadata())

    assert not metadata_only.loaded
    assert metadata_only.nbytes == 80
    assert metadata_only.checksum == tensor.checksum


def test_snapshot_document_holds_tensor_metadata_not_values():
    weights = Tensor.from_numpy("weights", np.ones((3, 2), dtype=np.float32))
    layer = Layer(LayerConfiguration(0, "hidden_0", "linear", 3, 2, "relu"), [weights])
    snapshot = Snapshot(
        learner_id=new_id(),
        experiment_id=new_id(),
        epoch=0,
        updates=10,
        elapsed=0.5,
        performance=LearnerPerformance(
            valid=Performance(
                "valid",
                0.4,
                accuracy=0.9,
                confusion_matrix=ConfusionMatrix([0, 1], [[3, 1], [0, 4]]),
            )
        ),
        layers=[layer],
    )

    document = snapshot.to_document()

    assert "values" not in document["layers"][0]["tensors"][0]
    assert document["performance"]["valid"]["confusion_matrix"]["counts"] == [[3, 1], [0, 4]]
    assert Snapshot.from_document(document).performance == snapshot.performance


@pytest.mark.parametrize(
    ("bounds", "field"),
    [
        ({"alpha": FloatBound(0.5, 0.1)}, "search_space.alpha.low"),
        ({"learning_rate": FloatBound(0.1, 0.5)}, "search_space"),
        ({"batch_size": IntBound(0, 10)}, "search_space.batch_size.low"),
        ({"activation": CategoricalBound(())}, "search_space.activation.choices"),
        ({"activation": CategoricalBound(("relu", "softmax"))}, "search_space.activation.choices"),
        ({"alpha": FloatBound(0.0, 0.5, log=True)}, "search_space.alpha.low"),
        ({"dropout": FloatBound(0.1, 1.0)}, "search_space.dropout.high"),
    ],
)
def test_invalid_search_space_names_the_field(bounds, field):
    with pytest.raises(ValidationError) as error:
        HyperParamSearchSpace(bounds)

    assert error.value.field == field
    assert "allowed" in str(error.value)


def test_invalid_hyper_parameters_name_the_field():
    with pytest.raises(
        ValidationError, match="hyper_parameters.batch_size: got 0; allowed: an integer >= 1"
    ):
        HyperParameters(batch_size=0)


def test_malformed_id_is_an_invalid_id_error():
    with pytest.raises(InvalidIdError) as error:
        object_id("experiment_id", "not-an-id")

    assert error.value.code == "INVALID_ID"
    assert error.value.field == "experiment_id"


def test_times_are_utc_aware():
    experiment = digits_experiment()

    assert experiment.created_at.tzinfo is not None
    assert experiment.created_at.utcoffset() == dt.timedelta(0)


def test_confusion_matrix_macro_scores_match_scikit_learn():
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    rng = np.random.default_rng(5)
    targets = rng.integers(0, 4, 300)
    predictions = np.where(rng.random(300) < 0.7, targets, rng.integers(0, 4, 300))
    predictions[predictions == 3] = 2  # a class never predicted: precision 0 by convention

    matrix = ConfusionMatrix.of_positions(targets, predictions, [0, 1, 2, 3])
    expected = precision_recall_fscore_support(
        targets, predictions, labels=[0, 1, 2, 3], average="macro", zero_division=0
    )[:3]

    assert matrix.counts == confusion_matrix(targets, predictions, labels=[0, 1, 2, 3]).tolist()
    assert matrix.macro_scores() == pytest.approx(expected, abs=1e-12)


def test_confusion_matrix_of_labels():
    matrix = ConfusionMatrix.of(np.array([3, 5, 5]), np.array([5, 5, 3]), [3, 5])

    assert matrix.counts == [[0, 1], [1, 1]]


def test_integer_bounds_past_64_bits_are_refused():
    from pol.model.search_space import bound_from_document

    with pytest.raises(ValidationError, match="search_space.hidden_nodes.high: got 1e\\+300"):
        bound_from_document("hidden_nodes", {"kind": "int", "low": 1, "high": 1e300})


def test_a_learning_rate_decay_must_be_a_factor_in_0_1():
    with pytest.raises(ValidationError, match="lr_gamma: got 0; allowed: 0 < lr_gamma <= 1"):
        HyperParameters(lr_gamma=0)


def test_an_experiment_name_is_short_and_not_blank():
    with pytest.raises(ValidationError, match=r"name: got 'xxxx.*\(10000000 characters\)"):
        digits_experiment().__class__(**{**digits_experiment().__dict__, "name": "x" * 10**7})
    with pytest.raises(ValidationError, match="1 to 200 characters"):
        digits_experiment().__class__(**{**digits_experiment().__dict__, "name": "  "})
