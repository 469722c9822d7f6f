"""HyperParameters: one configuration drawn from a search space, and its layers' setup."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..errors import ValidationError
from ._normalise import plain

ACTIVATIONS = ("relu", "logistic", "tanh")
REGULARISATIONS = ("none", "l1", "l2", "dropout")
LEARNER_TYPES = ("mlp", "rnn", "lstm", "gru")
HP_OPT_METHODS = ("random", "grid", "manual", "fork")


@dataclass
class LayerConfiguration:
    """The setup and label of one layer of a learner's architecture."""

    index: int
    label: str
    kind: str
    inputs: int
    outputs: int
    activation: str | None = None

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form."""
        return plain(dict(self.__dict__))

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> LayerConfiguration:
        """Return the layer configuration a document holds."""
        return cls(**{name: document.get(name) for name in cls.__dataclass_fields__})


@dataclass
class HyperParameters:
    """One configuration of a trial; the names are the ones search spaces bound.

    `lambda_` is the regularisation term (document key `lambda`); it is None when
    the regularisation is dropout or none. `dropout` is the drop probability used
    when the regularisation is dropout. `lr_step_size` 0 means a constant rate.
    """

    hp_opt_method: str = "random"
    alpha: float = 0.01
    lambda_: float | None = None
    regularisation: str = "none"
    dropout: float = 0.0
    n_hidden_layers: int = 1
    hidden_nodes: list[int] = field(default_factory=lambda: [32])
    activation: str = "relu"
    batch_size: int = 32
    max_updates: int = 10_000
    max_epochs: int = 50
    truncate_gradient: int = 10
    patience: int = 5
    momentum: float = 0.0
    lr_step_size: int = 0
    lr_gamma: float = 0.1
    n_train_batches: int = 0
    n_valid_batches: int = 0
    n_test_batches: int = 0
    layers: list[LayerConfiguration] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValidationError naming the first field outside its allowed values."""
        _choice("hyper_parameters.hp_opt_method", self.hp_opt_method, HP_OPT_METHODS)
        _choice("hyper_parameters.activation", self.activation, ACTIVATIONS)
        _choice("hyper_parameters.regularisation", self.regularisation, REGULARISATIONS)
        _positive("hyper_parameters.alpha", self.alpha)
        _at_least("hyper_parameters.batch_size", self.batch_size, 1)
        _at_least("hyper_parameters.max_updates", self.max_updates, 1)
        _at_least("hyper_parameters.max_epochs", self.max_epochs, 1)
        _at_least("hyper_parameters.truncate_gradient", self.truncate_gradient, 1)
        _at_least("hyper_parameters.patience", self.patience, 1)
        _at_least("hyper_parameters.n_hidden_layers", self.n_hidden_layers, 1)
        _at_least("hyper_parameters.lr_step_size", self.lr_step_size, 0)
        if not 0.0 < self.lr_gamma <= 1.0:
            raise ValidationError(
                "hyper_parameters.lr_gamma", self.lr_gamma, "0 < lr_gamma <= 1 (a decay factor)"
            )
        if len(self.hidden_nodes) != self.n_hidden_layers:
            raise ValidationError(
                "hyper_parameters.hidden_nodes",
                self.hidden_nodes,
                f"a list of {self.n_hidden_layers} counts, one per hidden layer",
            )
        for count in self.hidden_nodes:
            _at_least("hyper_parameters.hidden_nodes", count, 1)
        if not 0.0 <= self.momentum < 1.0:
            raise ValidationError("hyper_parameters.momentum", self.momentum, "0 <= momentum < 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValidationError("hyper_parameters.dropout", self.dropout, "0 <= dropout < 1")
        if self.regularisation in ("l1", "l2") and (self.lambda_ is None or self.lambda_ < 0):
            raise ValidationError(
                "hyper_parameters.lambda", self.lambda_, "a number >= 0 with l1 or l2"
            )

    def with_values(self, **values: Any) -> HyperParameters:
        """Return a copy with `values` replaced (document names, so `lambda` too)."""
        if "lambda" in values:
            values["lambda_"] = values.pop("lambda")
        unknown = sorted(set(values) - set(self.__dataclass_fields__))
        if unknown:
            raise ValidationError(
                "hyper_parameters", unknown[0], "one of " + ", ".join(HYPER_PARAMETER_NAMES)
            )
        if "n_hidden_layers" in values and "hidden_nodes" not in values:
            values["hidden_nodes"] = [self.hidden_nodes[0]] * int(values["n_hidden_layers"])
        return replace(self, **values)

    def to_document(self) -> dict[str, Any]:
        """Return the canonical document form (`lambda_` is stored as `lambda`)."""
        document = {}
        for item in fields(self):
            value = getattr(self, item.name)
            key = "lambda" if item.name == "lambda_" else item.name
            document[key] = value
        document["layers"] = [layer.to_document() for layer in self.layers]
        return plain(document)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> HyperParameters:
        """Return the hyper-parameters a document holds."""
        values = {key: value for key, value in document.items() if key != "layers"}
        values["lambda_"] = values.pop("lambda", None)
        values = {key: value for key, value in values.items() if key in cls.__dataclass_fields__}
        layers = [LayerConfiguration.from_document(item) for item in document.get("layers", [])]
        return cls(**values, layers=layers)


# The names a search space may bound: the document names of the tunable fields.
HYPER_PARAMETER_NAMES = (
    "alpha",
    "lambda",
    "regularisation",
    "dropout",
    "n_hidden_layers",
    "hidden_nodes",
    "activation",
    "batch_size",
    "max_updates",
    "max_epochs",
    "truncate_gradient",
    "patience",
    "momentum",
    "lr_step_size",
    "lr_gamma",
)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValidationError(name, value, "one of " + ", ".join(allowed))


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValidationError(name, value, "a number > 0")


def _at_least(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or int(value) != value or value < low:
        raise ValidationError(name, value, f"an integer >= {low}")
