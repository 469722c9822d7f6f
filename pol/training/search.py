"""Trial hyper-parameters drawn from a search space: random search and grid search.

Rules both methods follow:

- A name the space does not bound keeps the value of `base` (default HyperParameters()).
- `hidden_nodes` gives one count used by every hidden layer (one draw per configuration,
  not one per layer), so a configuration's hidden layers all have the same width.
- `lambda` is None unless the regularisation is l1 or l2; with l1 or l2 and no `lambda`
  bound it is `base`'s lambda, or 1e-4 when `base` has none.
- `dropout` is 0 unless the regularisation is dropout; with dropout and no `dropout`
  bound it is `base`'s dropout, or 0.5 when that is 0.
- Grid configurations that these rules make identical are kept once.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ..errors import ValidationError
from ..model import CategoricalBound, FloatBound, HyperParameters, HyperParamSearchSpace, IntBound

DEFAULT_LAMBDA = 1e-4
DEFAULT_DROPOUT = 0.5
# Largest grid grid_configurations builds; a bigger one is almost always a mistake.
MAX_GRID = 100_000


def draw_configurations(
    space: HyperParamSearchSpace,
    n: int,
    rng: np.random.Generator,
    base: HyperParameters | None = None,
) -> list[HyperParameters]:
    """Return `n` configurations drawn at random from `space` (hp_opt_method "random").

    Floats are uniform on [low, high], or uniform in log10 between log10(low) and
    log10(high) when the bound is logarithmic; integers are uniform on low..high, both
    ends included; categoricals are one of the choices, each equally likely.

    >>> space = HyperParamSearchSpace({"alpha": FloatBound(1e-4, 1e-1, log=True)})
    >>> [round(hp.alpha, 5) for hp in draw_configurations(space, 2, np.random.default_rng(0))]
    [0.00814, 0.00064]
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValidationError("count", n, "an integer >= 1")
    base = base or HyperParameters()
    return [
        _configure(
            base, {name: _draw(bound, rng) for name, bound in space.bounds.items()}, "random"
        )
        for _ in range(int(n))
    ]


def grid_configurations(
    space: HyperParamSearchSpace, points: int = 3, base: HyperParameters | None = None
) -> list[HyperParameters]:
    """Return every configuration of the grid over `space` (hp_opt_method "grid").

    Floats take `points` evenly spaced values from low to high (log-spaced for a
    logarithmic bound); integers take every value when there are at most `points`, else
    `points` evenly spaced values rounded; categoricals take every choice. The result is
    the cartesian product, in the order of the space's names.
    """
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 1:
        raise ValidationError("points", points, "an integer >= 1")
    base = base or HyperParameters()
    names = list(space.bounds)
    axes = [_axis(space.bounds[name], int(points)) for name in names]
    size = math.prod(len(axis) for axis in axes)
    if size > MAX_GRID:
        raise ValidationError(
            "points", points, f"a grid of at most {MAX_GRID} configurations, not {size}"
        )

    configurations, seen = [], set()
    for values in itertools.product(*axes):
        hyper_parameters = _configure(base, dict(zip(names, values)), "grid")
        key = repr(sorted(hyper_parameters.to_document().items()))
        if key not in seen:
            seen.add(key)
            configurations.append(hyper_parameters)
    return configurations


def _draw(bound: Any, rng: np.random.Generator) -> Any:
    if isinstance(bound, FloatBound):
        if bound.log:
            value = 10 ** rng.uniform(math.log10(bound.low), math.log10(bound.high))
        else:
            value = rng.uniform(bound.low, bound.high)
        return min(max(float(value), bound.low), bound.high)
    if isinstance(bound, IntBound):
        return int(rng.integers(bound.low, bound.high, endpoint=True))
    return _plain(bound.choices[int(rng.integers(len(bound.choices)))])


def _axis(bound: Any, points: int) -> list[Any]:
    if isinstance(bound, FloatBound):
        if bound.log:
            values = np.logspace(math.log10(bound.low), math.log10(bound.high), points)
        else:
            values = np.linspace(bound.low, bound.high, points)
        # The ends are exactly the bounds, without the rounding of logspace.
        values[0] = bound.low
        if points > 1:
            values[-1] = bound.high
        return [float(value) for value in values]
    if isinstance(bound, IntBound):
        if bound.high - bound.low + 1 <= points:
            return list(range(bound.low, bound.high + 1))
        return sorted({round(value) for value in np.linspace(bound.low, bound.high, points)})
    assert isinstance(bound, CategoricalBound)
    return [_plain(choice) for choice in bound.choices]


def _configure(base: HyperParameters, values: dict[str, Any], method: str) -> HyperParameters:
    """Return `base` with the drawn `values`, made coherent (see the module docstring)."""
    values = dict(values)
    layers = int(values.get("n_hidden_layers", base.n_hidden_layers))
    width = values.pop("hidden_nodes", base.hidden_nodes[0])
    values["hidden_nodes"] = [int(width)] * layers
    regularisation = values.get("regularisation", base.regularisation)
    if regularisation in ("l1", "l2"):
        fallback = base.lambda_ if base.lambda_ is not None else DEFAULT_LAMBDA
        values["lambda"] = float(values.get("lambda", fallback))
    else:
        values["lambda"] = None
    if regularisation == "dropout":
        fallback = base.dropout if base.dropout > 0 else DEFAULT_DROPOUT
        values["dropout"] = float(values.get("dropout", fallback))
    else:
        values["dropout"] = 0.0
    return base.with_values(hp_opt_method=method, layers=[], **values)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
