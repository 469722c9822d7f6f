"""The Evaluation library on mongomock databases filled through the model classes."""

from __future__ import annotations

import math

import mongomock
import numpy as np
import pandas as pd
import pytest

from pol.analytics import (
    MEDIAN_STD,
    MIN_MAX,
    MOST_FREQUENT,
    NOT_IN_STATS,
    TOO_FEW,
    CategoricalSummary,
    TopKEntry,
    analyse,
    coalesce_hyper_parameters,
    get_hyper_parameters,
    get_learner_ids,
    get_top_k_ids,
    reduce_search_space,
    uniformity_p_value,
    visualise_hp_distribution,
)
from pol.errors import InvalidIdError, NotFoundError, ValidationError
from pol.model import (
    CategoricalBound,
    Dataset,
    Experiment,
    FloatBound,
    HyperParameters,
    HyperParamSearchSpace,
    Indices,
    IntBound,
    Learner,
    LearnerPerformance,
    Performance,
    Snapshot,
)
from pol.model.ids import new_id

# The paper's Table 1.
PAPER_SPACE = HyperParamSearchSpace(
    {
        "activation": CategoricalBound(("relu", "logistic")),
        "hidden_nodes": IntBound(1, 10),
        "truncate_gradient": IntBound(5, 100),
        "alpha": FloatBound(0.0001, 0.9),
        "max_updates": IntBound(10, 10000),
        "batch_size": IntBound(60, 600),
    }
)

# The paper's Table 3, the columns of the hyper-parameters Table 1 bounds.
PAPER_STATS = pd.DataFrame(
    {
        "hidden_nodes": [4.360, 2.765, 1, 2, 4, 6.250, 10],
        "truncate_gradient": [53.980, 26.251, 6, 33, 55, 74.250, 100],
        "alpha": [0.404, 0.284, 0, 0.139, 0.373, 0.655, 0.889],
        "max_updates": [3966.870, 2704.307, 132, 1394, 3729, 6332, 9899],
        "batch_size": [289.240, 178.533, 68, 118, 242, 451.750, 619],
    },
    index=["mean", "std", "min", "25%", "50%", "75%", "max"],
)


@pytest.fixture
def db():
    return mongomock.MongoClient(tz_aware=True)["pol"]


def add_experiment(db, space: HyperParamSearchSpace = PAPER_SPACE) -> str:
    experiment = Experiment(
        name="gaelic football",
        dataset=Dataset("sensors", "sensors.csv", 100, ["x"], "y", "regression"),
        indices=Indices.in_order(100),
        search_space=space,
        id=new_id(),
    )
    db["experiments"].insert_one(experiment.to_document())
    return experiment.id


def add_learner(db, experiment_id: str, learner_id: str | None = None, **values) -> str:
    learner = Learner(
        experiment_id=experiment_id,
        learner_type="rnn",
        hyper_parameters=HyperParameters().with_values(**values),
        seed=0,
        id=learner_id or new_id(),
    )
    db["learners"].insert_one(learner.to_document())
    return learner.id


def add_snapshot(
    db,
    experiment_id: str,
    learner_id: str,
    epoch: int,
    loss: float,
    *,
    accuracy=None,
    superseded=False,
) -> None:
    performance = LearnerPerformance(
        train=Performance("train", loss=loss / 2),
        valid=Performance("valid", loss=loss, accuracy=accuracy),
    )
    snapshot = Snapshot(
        learner_id=learner_id,
        experiment_id=experiment_id,
        epoch=epoch,
        updates=10 * (epoch + 1),
        elapsed=1.0,
        performance=performance,
        superseded=superseded,
    )
    db["snapshots"].insert_one(snapshot.to_document())


def add_trained_learner(db, experiment_id: str, losses: list[float], **values) -> str:
    learner_id = add_learner(db, experiment_id, **values)
    for epoch, loss in enumerate(losses):
        add_snapshot(db, experiment_id, learner_id, epoch, loss)
    return learner_id


# get_top_k_ids


def test_top_k_ranks_learners_by_their_best_epoch_not_their_last(db):
    experiment = add_experiment(db)
    overfits = add_trained_learner(db, experiment, [0.9, 0.2, 0.7])
    steady = add_trained_learner(db, experiment, [0.8, 0.5, 0.3])
    slow = add_trained_learner(db, experiment, [1.0, 0.9, 0.8])

    top = get_top_k_ids(db, experiment, 2)

    assert top == [
        TopKEntry(learner_id=overfits, value=0.2, epoch=1, rank=1),
        TopKEntry(learner_id=steady, value=0.3, epoch=2, rank=2),
    ]
    assert slow not in [entry.learner_id for entry in top]


def test_top_k_leaves_out_superseded_snapshots_and_other_experiments(db):
    experiment = add_experiment(db)
    other = add_experiment(db)
    learner = add_trained_learner(db, experiment, [0.6, 0.5])
    add_snapshot(db, experiment, learner, 2, 0.01, superseded=True)
    add_trained_learner(db, other, [0.001])

    top = get_top_k_ids(db, experiment, 5)

    assert [(entry.learner_id, entry.value, entry.epoch) for entry in top] == [(learner, 0.5, 1)]


def test_top_k_skips_nan_and_infinite_values(db):
    experiment = add_experiment(db)
    diverged = add_trained_learner(db, experiment, [math.nan, math.inf])
    recovered = add_trained_learner(db, experiment, [math.nan, 0.4, -math.inf])
    fine = add_trained_learner(db, experiment, [0.3])

    top = get_top_k_ids(db, experiment, 10)

    assert [(entry.learner_id, entry.value, entry.epoch) for entry in top] == [
        (fine, 0.3, 0),
        (recovered, 0.4, 1),
    ]
    assert diverged not in [entry.learner_id for entry in top]


def test_top_k_ranks_accuracy_highest_first_unless_told_otherwise(db):
    experiment = add_experiment(db)
    weak = add_learner(db, experiment)
    strong = add_learner(db, experiment)
    add_snapshot(db, experiment, weak, 0, 0.5, accuracy=0.61)
    add_snapshot(db, experiment, strong, 0, 0.6, accuracy=0.72)
    add_snapshot(db, experiment, strong, 1, 0.7, accuracy=0.70)

    best = get_top_k_ids(db, experiment, 2, metric="accuracy")
    worst = get_top_k_ids(db, experiment, 1, metric="accuracy", ascending=True)

    assert [(entry.learner_id, entry.value, entry.epoch) for entry in best] == [
        (strong, 0.72, 0),
        (weak, 0.61, 0),
    ]
    assert [(entry.learner_id, entry.value) for entry in worst] == [(weak, 0.61)]


def test_top_k_breaks_ties_by_learner_id_and_by_earliest_epoch(db):
    experiment = add_experiment(db)
    second = add_learner(db, experiment, "bbbbbbbbbbbbbbbbbbbbbbbb")
    first = add_learner(db, experiment, "aaaaaaaaaaaaaaaaaaaaaaaa")
    for learner in (second, first):
        for epoch, loss in enumerate([0.5, 0.25, 0.25]):
            add_snapshot(db, experiment, learner, epoch, loss)

    top = get_top_k_ids(db, experiment, 2)

    assert [(entry.learner_id, entry.epoch, entry.rank) for entry in top] == [
        (first, 1, 1),
        (second, 1, 2),
    ]


def test_top_k_as_a_fraction_rounds_up_over_learners_with_a_finite_value(db):
    experiment = add_experiment(db)
    for loss in [0.1, 0.2, 0.3, 0.4, 0.5, math.nan]:
        add_trained_learner(db, experiment, [loss])

    assert len(get_top_k_ids(db, experiment, 0.5)) == 3
    assert len(get_top_k_ids(db, experiment, 0.3)) == 2
    assert len(get_top_k_ids(db, experiment, 0.01)) == 1
    assert len(get_top_k_ids(db, experiment, 1.0)) == 5
    assert len(get_top_k_ids(db, experiment, 50)) == 5
    assert len(get_top_k_ids(db, experiment, np.int64(2))) == 2


def test_top_k_of_an_experiment_without_snapshots_is_empty(db):
    experiment = add_experiment(db)
    add_learner(db, experiment)

    assert get_top_k_ids(db, experiment, 0.5) == []


@pytest.mark.parametrize(
    ("arguments", "field", "allowed"),
    [
        ({"k": 5, "metric": "auc"}, "metric", "loss, accuracy, precision, recall, f1, mse, mae"),
        ({"k": 5, "split": "validation"}, "split", "train, valid, test"),
        ({"k": 0}, "k", "a positive integer count"),
        ({"k": -3}, "k", "a positive integer count"),
        ({"k": 1.5}, "k", "a fraction in (0, 1]"),
        ({"k": 0.0}, "k", "a fraction in (0, 1]"),
        ({"k": True}, "k", "a positive integer count"),
        ({"k": "20"}, "k", "a positive integer count"),
    ],
)
def test_top_k_rejects_bad_arguments_naming_the_field(db, arguments, field, allowed):
    experiment = add_experiment(db)

    with pytest.raises(ValidationError) as raised:
        get_top_k_ids(db, experiment, **arguments)

    assert raised.value.field == field
    assert allowed in raised.value.message


def test_top_k_rejects_a_malformed_or_unknown_experiment_id(db):
    with pytest.raises(InvalidIdError) as raised:
        get_top_k_ids(db, "not-an-id", 5)
    assert raised.value.field == "experiment_id"

    with pytest.raises(NotFoundError) as missing:
        get_top_k_ids(db, new_id(), 5)
    assert missing.value.kind == "experiment"


# get_hyper_parameters


def test_hyper_parameters_are_one_row_per_learner_in_the_order_asked(db):
    experiment = add_experiment(db)
    small = add_learner(db, experiment, alpha=0.5, hidden_nodes=[3], batch_size=64)
    deep = add_learner(
        db, experiment, alpha=0.01, n_hidden_layers=2, hidden_nodes=[4, 4], activation="logistic"
    )
    uneven = add_learner(db, experiment, n_hidden_layers=3, hidden_nodes=[2, 4, 9])

    table = get_hyper_parameters(db, [deep, uneven, small])

    assert list(table.index) == [deep, uneven, small]
    assert table.index.name == "learner_id"
    assert "hidden_nodes" in table.columns and "lambda" in table.columns
    assert table.loc[small, "hidden_nodes"] == 3
    assert table.loc[deep, "hidden_nodes"] == 4
    assert table.loc[uneven, "hidden_nodes"] == 5.0
    assert list(table["n_hidden_layers"]) == [2, 3, 1]
    assert list(table["activation"]) == ["logistic", "relu", "relu"]
    assert list(table["alpha"]) == [0.01, 0.01, 0.5]
    assert table.loc[small, "batch_size"] == 64


def test_hyper_parameters_of_learners_that_do_not_exist_are_refused(db):
    experiment = add_experiment(db)
    learner = add_learner(db, experiment)
    stranger = new_id()

    with pytest.raises(NotFoundError) as missing:
        get_hyper_parameters(db, [learner, stranger])
    assert missing.value.key == stranger
    with pytest.raises(ValidationError, match="without repeats"):
        get_hyper_parameters(db, [learner, learner])
    with pytest.raises(InvalidIdError):
        get_hyper_parameters(db, ["123"])


def test_learner_ids_of_an_experiment(db):
    experiment = add_experiment(db)
    learners = [add_learner(db, experiment) for _ in range(3)]
    add_learner(db, add_experiment(db))

    assert get_learner_ids(db, experiment) == learners


# coalesce_hyper_parameters


def test_coalesce_gives_pandas_describe_of_numeric_hyper_parameters():
    table = pd.DataFrame(
        {"hidden_nodes": [1, 3, 3, 7], "activation": ["relu", "logistic", "relu", "logistic"]}
    )

    coalesced = coalesce_hyper_parameters(table)
    nodes = coalesced.numeric["hidden_nodes"]

    assert nodes["count"] == 4
    assert nodes["mean"] == 3.5
    assert round(nodes["std"], 4) == 2.5166
    assert nodes["min"] == 1
    assert (nodes["25%"], nodes["50%"], nodes["75%"]) == (2.5, 3.0, 4.0)
    assert nodes["max"] == 7
    pd.testing.assert_frame_equal(
        coalesced.numeric, table[["hidden_nodes"]].astype(float).describe()
    )
    assert list(coalesced.numeric.columns) == ["hidden_nodes"]


def test_coalesce_counts_categoricals_and_breaks_ties_by_first_occurrence():
    table = pd.DataFrame(
        {
            "activation": ["logistic", "relu", "relu", "logistic", "tanh"],
            "n_hidden_layers": [1, 2, 2, 3, 3],
        }
    )

    coalesced = coalesce_hyper_parameters(table, categorical=["n_hidden_layers"])

    assert coalesced.categorical["activation"].counts == {"logistic": 2, "relu": 2, "tanh": 1}
    assert coalesced.categorical["activation"].mode == "logistic"
    assert coalesced.categorical["n_hidden_layers"].counts == {2: 2, 3: 2, 1: 1}
    assert coalesced.categorical["n_hidden_layers"].mode == 2
    assert coalesced.numeric.shape == (8, 0)


def test_coalesce_only_the_names_asked_for():
    table = pd.DataFrame({"alpha": [0.1, 0.3], "batch_size": [64, 128], "activation": ["relu"] * 2})

    coalesced = coalesce_hyper_parameters(table, ["batch_size"])

    assert list(coalesced.numeric.columns) == ["batch_size"]
    assert coalesced.categorical == {}
    with pytest.raises(ValidationError) as raised:
        coalesce_hyper_parameters(table, ["momentum"])
    assert raised.value.field == "names"


# reduce_search_space


def test_reduce_turns_the_papers_table_3_into_table_4():
    reduced = reduce_search_space(
        PAPER_STATS,
        PAPER_SPACE,
        categorical={"activation": {"relu": 11, "logistic": 9}},
        uniform=("max_updates",),
    )
    space = reduced.to_search_space()

    assert space["activation"] == CategoricalBound(("relu",))
    assert space["hidden_nodes"] == IntBound(1, 7)
    assert space["truncate_gradient"] == IntBound(29, 81)
    assert (round(space["alpha"].low, 3), round(space["alpha"].high, 3)) == (0.089, 0.657)
    assert space["max_updates"] == IntBound(132, 9899)
    # 242 ± 178.533 = (63.467, 420.533), rounded to the nearest integers.
    assert space["batch_size"] == IntBound(63, 421)
    assert reduced["activation"].rule == MOST_FREQUENT
    assert reduced["activation"].numbers == {"relu": 11, "logistic": 9}
    assert reduced["max_updates"].rule == MIN_MAX
    assert reduced["max_updates"].numbers == {"min": 132, "max": 9899}
    assert reduced["batch_size"].rule == MEDIAN_STD
    assert reduced["batch_size"].numbers["median"] == 242
    assert reduced["batch_size"].numbers["std"] == 178.533
    assert reduced["batch_size"].numbers["low"] == pytest.approx(63.467)
    assert reduced["batch_size"].numbers["high"] == pytest.approx(420.533)


def test_reduce_clips_to_the_original_bounds():
    stats = pd.DataFrame(
        {
            "hidden_nodes": [8.0, 4.0, 2, 5, 9, 10, 10],
            "alpha": [0.02, 0.3, 0.001, 0.01, 0.02, 0.1, 0.8],
        },
        index=["mean", "std", "min", "25%", "50%", "75%", "max"],
    )
    space = HyperParamSearchSpace(
        {"hidden_nodes": IntBound(1, 10), "alpha": FloatBound(0.0001, 0.9, log=True)}
    )

    reduced = reduce_search_space(stats, space).to_search_space()

    assert reduced["hidden_nodes"] == IntBound(5, 10)
    assert reduced["alpha"] == FloatBound(0.0001, 0.32, log=True)


def test_reduce_closes_a_narrow_bound_to_one_value():
    stats = pd.DataFrame(
        {"hidden_nodes": [3, 0.2, 3, 3, 3, 3, 3], "momentum": [0.9, 0.0, 0.9, 0.9, 0.9, 0.9, 0.9]},
        index=["mean", "std", "min", "25%", "50%", "75%", "max"],
    )
    space = HyperParamSearchSpace(
        {"hidden_nodes": IntBound(1, 10), "momentum": FloatBound(0.0, 0.99)}
    )

    reduced = reduce_search_space(stats, space)

    assert reduced["hidden_nodes"].bound == CategoricalBound((3,))
    assert reduced["momentum"].bound == CategoricalBound((0.9,))
    assert reduced["hidden_nodes"].rule == "median ± std, clipped, closed to one value"
    assert reduced.to_search_space()["hidden_nodes"] == CategoricalBound((3,))


def test_reduce_leaves_unchanged_what_the_top_k_does_not_tell():
    stats = coalesce_hyper_parameters(pd.DataFrame({"batch_size": [128], "alpha": [0.1]}))
    space = HyperParamSearchSpace(
        {
            "batch_size": IntBound(60, 600),
            "patience": IntBound(1, 20),
            "activation": CategoricalBound(("relu", "tanh")),
        }
    )

    reduced = reduce_search_space(stats, space, uniform_threshold=None)

    assert reduced.to_search_space() == space
    assert reduced["batch_size"].rule == TOO_FEW
    assert reduced["patience"].rule == NOT_IN_STATS
    assert reduced["activation"].rule == NOT_IN_STATS


def test_reduce_finds_close_to_uniform_hyper_parameters_from_the_top_k_values():
    # max updates spread evenly over the whole bound; hidden nodes crowd at the low end.
    top_k = pd.DataFrame(
        {
            "max_updates": np.linspace(300, 9700, 20).round().astype(int),
            "hidden_nodes": [1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 6, 9],
            "activation": ["relu"] * 11 + ["logistic"] * 9,
        }
    )
    space = HyperParamSearchSpace(
        {
            "max_updates": IntBound(10, 10000),
            "hidden_nodes": IntBound(1, 10),
            "activation": CategoricalBound(("relu", "logistic")),
        }
    )

    reduced = reduce_search_space(coalesce_hyper_parameters(top_k), space)

    assert reduced["max_updates"].rule == MIN_MAX
    assert reduced["max_updates"].bound == IntBound(300, 9700)
    assert reduced["max_updates"].numbers["ks_p_value"] > 0.9
    assert reduced["hidden_nodes"].rule == MEDIAN_STD
    assert reduced["hidden_nodes"].numbers["ks_p_value"] < 0.01
    assert reduced["hidden_nodes"].bound == IntBound(1, 5)
    assert reduced["activation"].bound == CategoricalBound(("relu",))


def test_uniformity_p_value_on_integer_and_log_bounds():
    every_integer = np.arange(1, 11)
    crowded = np.array([1, 1, 1, 2, 2, 2, 1, 1, 2, 1])
    log_spread = np.geomspace(0.0001, 0.9, 12)

    assert uniformity_p_value(every_integer, IntBound(1, 10)) > 0.99
    assert uniformity_p_value(crowded, IntBound(1, 10)) < 0.001
    assert uniformity_p_value(log_spread, FloatBound(0.0001, 0.9, log=True)) > 0.9
    assert uniformity_p_value(log_spread, FloatBound(0.0001, 0.9)) < 0.001


def test_reduce_refuses_uniform_names_that_are_not_numeric_bounds():
    with pytest.raises(ValidationError) as raised:
        reduce_search_space(PAPER_STATS, PAPER_SPACE, uniform=("activation",))

    assert raised.value.field == "uniform"
    assert "hidden_nodes" in raised.value.allowed


def test_reduce_text_names_the_rule_of_every_bound():
    reduced = reduce_search_space(
        PAPER_STATS,
        PAPER_SPACE,
        categorical={"activation": CategoricalSummary({"relu": 11, "logistic": 9})},
        uniform=("max_updates",),
    )

    lines = reduced.to_text().splitlines()

    assert lines[0].split() == ["hyper-parameter", "original", "reduced", "rule", "numbers"]
    assert lines[2].startswith("activation")
    assert "(relu, logistic)" in lines[2] and "(relu)" in lines[2] and MOST_FREQUENT in lines[2]
    alpha = next(line for line in lines if line.startswith("alpha"))
    assert "(0.0001, 0.900)" in alpha and "(0.089, 0.657)" in alpha
    batch_size = next(line for line in lines if line.startswith("batch_size"))
    assert "(60, 600)" in batch_size and "(63, 421)" in batch_size
    assert "median 242, std 178.533, low 63.467, high 420.533" in batch_size


# visualise_hp_distribution


def test_distribution_bins_top_k_and_all_learners_on_the_same_edges():
    table_all = pd.DataFrame(
        {
            "hidden_nodes": [1, 2, 2, 3, 5, 7, 10, 10],
            "alpha": [0.0001, 0.001, 0.01, 0.1, 0.9, 0.5, 0.05, 0.005],
            "activation": ["relu", "logistic", "relu", "relu", "logistic", "relu", "relu", "relu"],
        }
    )
    table_top_k = table_all.iloc[:3]
    space = HyperParamSearchSpace(
        {
            "hidden_nodes": IntBound(1, 10),
            "alpha": FloatBound(0.0001, 0.9, log=True),
            "activation": CategoricalBound(("logistic", "relu", "tanh")),
        }
    )

    distributions = visualise_hp_distribution(table_top_k, table_all, space, bins=4)

    nodes = distributions["hidden_nodes"]
    assert nodes.edges == [1, 3.25, 5.5, 7.75, 10]
    assert nodes.all == [4, 1, 1, 2] and nodes.top_k == [3, 0, 0, 0]
    alpha = distributions["alpha"]
    assert alpha.edges == pytest.approx(np.geomspace(0.0001, 0.9, 5).tolist())
    assert alpha.all == [1, 2, 2, 3] and alpha.top_k == [1, 1, 1, 0]
    activation = distributions["activation"]
    assert activation.labels == ["logistic", "relu", "tanh"]
    assert activation.all == [2, 6, 0] and activation.top_k == [1, 2, 0]


def test_distribution_gives_small_integer_bounds_one_bin_per_value():
    table = pd.DataFrame({"hidden_nodes": [1, 3, 3, 7]})
    space = HyperParamSearchSpace({"hidden_nodes": IntBound(1, 10)})

    nodes = visualise_hp_distribution(table, table, space)["hidden_nodes"]

    assert nodes.labels == [str(count) for count in range(1, 11)]
    assert nodes.top_k == [1, 0, 2, 0, 0, 0, 1, 0, 0, 0]
    assert nodes.to_text().splitlines()[3].split() == ["3", "2", "#" * 30, "2"]


# analyse


def fill_experiment(db, learners: int, epochs: int, seed: int = 7) -> str:
    """Fill a paper-like experiment: loss falls with fewer nodes and a mid-range alpha."""
    rng = np.random.default_rng(seed)
    experiment = add_experiment(db)
    learner_documents, snapshot_documents = [], []
    for _ in range(learners):
        values = {
            "hidden_nodes": [int(rng.integers(1, 11))],
            "truncate_gradient": int(rng.integers(5, 101)),
            "alpha": float(rng.uniform(0.0001, 0.9)),
            "max_updates": int(rng.integers(10, 10001)),
            "batch_size": int(rng.integers(60, 601)),
            "activation": str(rng.choice(["relu", "logistic"])),
        }
        learner = Learner(
            experiment_id=experiment,
            learner_type="rnn",
            hyper_parameters=HyperParameters().with_values(**values),
            seed=0,
            id=new_id(),
        )
        learner_documents.append(learner.to_document())
        floor = 0.1 * values["hidden_nodes"][0] + abs(values["alpha"] - 0.4) + rng.uniform(0, 0.2)
        for epoch in range(epochs):
            loss = floor + 1.0 / (epoch + 1)
            snapshot = Snapshot(
                learner_id=learner.id,
                experiment_id=experiment,
                epoch=epoch,
                updates=epoch * 100,
                elapsed=1.0,
                performance=LearnerPerformance(valid=Performance("valid", loss=loss)),
            )
            snapshot_documents.append(snapshot.to_document())
    db["learners"].insert_many(learner_documents)
    db["snapshots"].insert_many(snapshot_documents)
    return experiment


def test_analyse_runs_every_step_and_reports_three_tables(db):
    experiment = fill_experiment(db, learners=40, epochs=3)

    analysis = analyse(db, experiment, 10, "loss", "valid", uniform=("max_updates",))

    assert [entry.rank for entry in analysis.top_k] == list(range(1, 11))
    assert list(analysis.hyper_parameters.index) == [entry.learner_id for entry in analysis.top_k]
    assert list(analysis.coalesced.numeric.columns) == [
        "hidden_nodes",
        "truncate_gradient",
        "alpha",
        "max_updates",
        "batch_size",
    ]
    assert analysis.coalesced.numeric.loc["count"].tolist() == [10] * 5
    assert analysis.reduced["max_updates"].rule == MIN_MAX
    # The synthetic loss favours few hidden nodes, so the reduced bound sits low.
    assert analysis.reduced.to_search_space()["hidden_nodes"].high <= 5
    text = analysis.to_text()
    assert text.startswith(f"Top 10 learners of experiment {experiment} by valid loss")
    assert "Hyper-parameter summary statistics" in text and "Reduced search space" in text
    assert analysis.top_k[0].learner_id in text


def test_reduce_keeps_every_categorical_value_tied_for_most_frequent():
    table = pd.DataFrame({"activation": ["relu", "tanh", "logistic", "tanh", "relu"]})
    space = HyperParamSearchSpace({"activation": CategoricalBound(("relu", "logistic", "tanh"))})

    reduced = reduce_search_space(coalesce_hyper_parameters(table), space)

    assert reduced["activation"].bound == CategoricalBound(("relu", "tanh"))
    assert reduced["activation"].rule == "most frequent (tied)"
