"""HyperParamSearchSpace: the bounds from which trial hyper-parameters are drawn."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError
from ._normalise import plain
from .hyperparameters import ACTIVATIONS, HYPER_PARAMETER_NAMES, REGULARISATIONS

INT_NAMES = (
    "n_hidden_layers",
    "hidden_nodes",
    "batch_size",
    "max_updates",
    "max_epochs",
    "truncate_gradient",
    "patience",
    "lr_step_size",
)
FLOAT_NAMES = ("alpha", "lambda", "dropout", "momentum", "lr_gamma")
CATEGORICAL_NAMES = {"activation": ACTIVATIONS, "regularisation": REGULARISATIONS}
# Smallest value each numeric hyper-parameter can take in a trial.
LOWEST = {
    "n_hidden_layers": 1,
    "hidden_nodes": 1,
    "batch_size": 1,
    "max_updates": 1,
    "max_epochs": 1,
    "truncate_gradient": 1,
    "patience": 1,
    "lr_step_size": 0,
    "alpha": 0.0,
    "lambda": 0.0,
    "dropout": 0.0,
    "momentum": 0.0,
    "lr_gamma": 0.0,
}
# Largest value, exclusive for these (a probability or a momentum must stay below 1).
BELOW = {"dropout": 1.0, "momentum": 1.0}


@dataclass(frozen=True)
class FloatBound:
    """A real hyper-parameter drawn from [low, high], uniformly or log-uniformly."""

    low: float
    high: float
    log: bool = False
    kind = "float"

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form."""
        return {
            "kind": self.kind,
            "low": plain(self.low),
            "high": plain(self.high),
            "log": self.log,
        }


@dataclass(frozen=True)
class IntBound:
    """An integer hyper-parameter drawn from low..high, both ends included."""

    low: int
    high: int
    kind = "int"

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form."""
        return {"kind": self.kind, "low": plain(self.low), "high": plain(self.high)}


@dataclass(frozen=True)
class CategoricalBound:
    """A hyper-parameter drawn from a list of values, stored by value."""

    choices: tuple[Any, ...]
    kind = "categorical"

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form."""
        return {"kind": self.kind, "choices": plain(list(self.choices))}


Bound = FloatBound | IntBound | CategoricalBound


class HyperParamSearchSpace:
    """One validated bound per hyper-parameter name; names not bounded keep their defaults."""

    def __init__(self, bounds: dict[str, Bound]) -> None:
        if not bounds:
            raise ValidationError("search_space", {}, "at least one bounded hyper-parameter")
        self.bounds = {name: validate_bound(name, bound) for name, bound in bounds.items()}

    def __getitem__(self, name: str) -> Bound:
        return self.bounds[name]

    def __iter__(self):
        return iter(self.bounds)

    def __len__(self) -> int:
        return len(self.bounds)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HyperParamSearchSpace) and self.bounds == other.bounds

    def __repr__(self) -> str:
        return f"HyperParamSearchSpace({self.bounds!r})"

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form: name -> bound document."""
        return {name: bound.to_document() for name, bound in self.bounds.items()}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> HyperParamSearchSpace:
        """Return the search space a document holds, validated."""
        return cls({name: bound_from_document(name, item) for name, item in document.items()})


def bound_from_document(name: str, document: dict[str, Any]) -> Bound:
    """Return the bound a document describes; its kind must be float, int or categorical."""
    field = f"search_space.{name}"
    kind = document.get("kind")
    if kind == "float":
        return FloatBound(
            _number(f"{field}.low", document.get("low")),
            _number(f"{field}.high", document.get("high")),
            bool(document.get("log", False)),
        )
    if kind == "int":
        return IntBound(
            _integer(f"{field}.low", document.get("low")),
            _integer(f"{field}.high", document.get("high")),
        )
    if kind == "categorical":
        choices = document.get("choices")
        if not isinstance(choices, (list, tuple)):
            raise ValidationError(f"{field}.choices", choices, "a non-empty list of values")
        return CategoricalBound(tuple(choices))
    raise ValidationError(f"{field}.kind", kind, "one of float, int, categorical")


def validate_bound(name: str, bound: Bound) -> Bound:
    """Return `bound` if it is allowed for the hyper-parameter `name`, else raise."""
    field = f"search_space.{name}"
    if name not in HYPER_PARAMETER_NAMES:
        raise ValidationError("search_space", name, "one of " + ", ".join(HYPER_PARAMETER_NAMES))
    if isinstance(bound, CategoricalBound):
        return _validate_categorical(name, bound)
    if isinstance(bound, IntBound) and name not in INT_NAMES:
        raise ValidationError(f"{field}.kind", "int", _kinds_allowed(name))
    if isinstance(bound, FloatBound) and name not in FLOAT_NAMES:
        raise ValidationError(f"{field}.kind", "float", _kinds_allowed(name))
    if not isinstance(bound, (IntBound, FloatBound)):
        raise ValidationError(f"{field}.kind", type(bound).__name__, _kinds_allowed(name))
    if not bound.low < bound.high:
        raise ValidationError(f"{field}.low", bound.low, f"a value below high ({bound.high})")
    if bound.low < LOWEST[name]:
        raise ValidationError(f"{field}.low", bound.low, f"a value >= {LOWEST[name]}")
    if name in BELOW and bound.high >= BELOW[name]:
        raise ValidationError(f"{field}.high", bound.high, f"a value below {BELOW[name]}")
    if isinstance(bound, FloatBound) and bound.log and bound.low <= 0:
        raise ValidationError(f"{field}.low", bound.low, "a value > 0 on a log scale")
    return bound


def _validate_categorical(name: str, bound: CategoricalBound) -> CategoricalBound:
    field = f"search_space.{name}.choices"
    if not bound.choices:
        raise ValidationError(field, list(bound.choices), "a non-empty list of values")
    if len(set(map(repr, bound.choices))) != len(bound.choices):
        raise ValidationError(field, list(bound.choices), "values without repeats")
    for choice in bound.choices:
        if name in CATEGORICAL_NAMES and choice not in CATEGORICAL_NAMES[name]:
            raise ValidationError(field, choice, "one of " + ", ".join(CATEGORICAL_NAMES[name]))
        if name in INT_NAMES and (
            isinstance(choice, bool) or not isinstance(choice, int) or choice < LOWEST[name]
        ):
            raise ValidationError(field, choice, f"integers >= {LOWEST[name]}")
        if name in FLOAT_NAMES and (
            isinstance(choice, bool)
            or not isinstance(choice, (int, float))
            or not math.isfinite(choice)
            or choice < LOWEST[name]
            or choice >= BELOW.get(name, math.inf)
        ):
            raise ValidationError(field, choice, f"finite numbers >= {LOWEST[name]}")
    return bound


def _kinds_allowed(name: str) -> str:
    if name in INT_NAMES:
        return f"int or categorical for {name}"
    if name in FLOAT_NAMES:
        return f"float or categorical for {name}"
    return f"categorical for {name}"


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(field, value, "a finite number")
    return float(value)


# Integers are stored as BSON's signed 64-bit integers.
INT64 = 2**63 - 1


def _integer(field: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer() and abs(value) <= INT64:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > INT64:
        raise ValidationError(field, value, f"an integer between {-INT64} and {INT64}")
    return int(value)
