"""Random and grid search over a hyper-parameter search space."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pol.errors import ValidationError
from pol.model import CategoricalBound, FloatBound, HyperParameters, HyperParamSearchSpace, IntBound
from pol.training import draw_configurations, grid_configurations


def space() -> HyperParamSearchSpace:
    return HyperParamSearchSpace(
        {
            "alpha": FloatBound(1e-5, 1e-1, log=True),
            "n_hidden_layers": IntBound(1, 4),
            "activation": CategoricalBound(("relu", "tanh")),
        }
    )


def test_random_draws_cover_the_space_as_specified():
    configurations = draw_configurations(space(), 10_000, np.random.default_rng(2024))

    rates = np.array([hp.alpha for hp in configurations])
    layers = np.array([hp.n_hidden_layers for hp in configurations])
    exponents = np.log10(rates)
    assert len(configurations) == 10_000
    assert rates.min() >= 1e-5 and rates.max() <= 1e-1
    assert set(layers.tolist()) == {1, 2, 3, 4}
    assert {hp.activation for hp in configurations} == {"relu", "tanh"}
    assert all(len(hp.hidden_nodes) == hp.n_hidden_layers for hp in configurations)
    assert all(hp.hp_opt_method == "random" for hp in configurations)
    # log10 of the rate is uniform on [-5, -1]: each of its deciles holds about 1,000 draws.
    assert stats.kstest(exponents, stats.uniform(loc=-5, scale=4).cdf).pvalue > 0.01
    deciles = np.histogram(exponents, bins=10, range=(-5, -1))[0]
    assert deciles.min() > 880 and deciles.max() < 1120
    assert abs((layers == 4).mean() - 0.25) < 0.02


def test_random_draws_repeat_with_the_same_generator_state():
    first = draw_configurations(space(), 5, np.random.default_rng(7))
    second = draw_configurations(space(), 5, np.random.default_rng(7))

    assert [hp.to_document() for hp in first] == [hp.to_document() for hp in second]


def test_unbounded_names_keep_the_base_values():
    base = HyperParameters(batch_size=64, momentum=0.9, max_epochs=7)

    (hp,) = draw_configurations(space(), 1, np.random.default_rng(0), base=base)

    assert (hp.batch_size, hp.momentum, hp.max_epochs) == (64, 0.9, 7)


def test_hidden_nodes_is_one_width_for_every_layer():
    bounds = HyperParamSearchSpace(
        {"n_hidden_layers": IntBound(2, 3), "hidden_nodes": IntBound(1, 10)}
    )

    configurations = draw_configurations(bounds, 200, np.random.default_rng(1))

    assert all(len(set(hp.hidden_nodes)) == 1 for hp in configurations)
    assert {hp.hidden_nodes[0] for hp in configurations} == set(range(1, 11))


def test_lambda_is_set_only_with_l1_or_l2():
    bounds = HyperParamSearchSpace(
        {
            "regularisation": CategoricalBound(("none", "l1", "l2", "dropout")),
            "lambda": FloatBound(1e-6, 1e-2, log=True),
        }
    )

    configurations = draw_configurations(bounds, 400, np.random.default_rng(3))

    for hp in configurations:
        if hp.regularisation in ("l1", "l2"):
            assert 1e-6 <= hp.lambda_ <= 1e-2
        else:
            assert hp.lambda_ is None
        assert (hp.dropout == 0.5) == (hp.regularisation == "dropout")


def test_a_count_below_one_is_rejected():
    with pytest.raises(ValidationError) as caught:
        draw_configurations(space(), 0, np.random.default_rng(0))

    assert (caught.value.field, caught.value.value, caught.value.allowed) == (
        "count",
        0,
        "an integer >= 1",
    )


def test_grid_is_the_cartesian_product():
    configurations = grid_configurations(space(), points=3)

    assert len(configurations) == 3 * 3 * 2
    assert sorted({hp.alpha for hp in configurations}) == pytest.approx([1e-5, 1e-3, 1e-1])
    assert {hp.n_hidden_layers for hp in configurations} == {1, 2, 4}
    assert all(hp.hp_opt_method == "grid" for hp in configurations)
    first = configurations[0]
    assert (first.alpha, first.n_hidden_layers, first.activation) == (1e-5, 1, "relu")


def test_grid_takes_every_integer_when_few_and_linear_floats():
    bounds = HyperParamSearchSpace(
        {"n_hidden_layers": IntBound(1, 3), "momentum": FloatBound(0.0, 0.9)}
    )

    configurations = grid_configurations(bounds, points=4)

    assert {hp.n_hidden_layers for hp in configurations} == {1, 2, 3}
    assert sorted({hp.momentum for hp in configurations}) == pytest.approx([0.0, 0.3, 0.6, 0.9])
    assert len(configurations) == 12


def test_grid_keeps_configurations_made_identical_once():
    bounds = HyperParamSearchSpace(
        {
            "regularisation": CategoricalBound(("none", "l2")),
            "lambda": FloatBound(1e-4, 1e-2, log=True),
        }
    )

    configurations = grid_configurations(bounds, points=3)

    assert [(hp.regularisation, hp.lambda_) for hp in configurations] == [
        ("none", None),
        ("l2", pytest.approx(1e-4)),
        ("l2", pytest.approx(1e-3)),
        ("l2", pytest.approx(1e-2)),
    ]
    assert math.isclose(configurations[-1].lambda_, 1e-2)
