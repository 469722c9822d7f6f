"""Forks: a new learner that continues another's snapshot with some hyper-parameters changed.

A fork keeps its parent's weights, so it keeps whatever shapes them and the batches
that its saved batch order and position count: the architecture (`n_hidden_layers`,
`hidden_nodes`, `activation`, the learner type) and `batch_size`. Everything that only
steers training from here on may change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError
from ..model import HyperParameters

# The hyper-parameters (document names) a fork may set to values of its own.
FORK_OVERRIDES = (
    "alpha",
    "momentum",
    "lr_step_size",
    "lr_gamma",
    "patience",
    "max_epochs",
    "max_updates",
    "regularisation",
    "lambda",
    "dropout",
    "truncate_gradient",
)


def check_fork_overrides(parent: HyperParameters, overrides: Mapping[str, Any]) -> HyperParameters:
    """Return the fork's hyper-parameters: `parent`'s with `overrides`, hp_opt_method "fork".

    `overrides` uses document names ("lambda"; "lambda_" is read too). A name outside
    FORK_OVERRIDES is accepted only with the parent's own value; any other value raises
    ValidationError naming the field, as does a value the hyper-parameters do not allow.
    """
    values = dict(overrides)
    if "lambda_" in values:
        values["lambda"] = values.pop("lambda_")
    allowed = "a fork keeps the parent's architecture, learner type and batch size; " + (
        "it may override " + ", ".join(FORK_OVERRIDES)
    )
    for name, value in values.items():
        if name in FORK_OVERRIDES:
            continue
        if name == "learner_type" or name not in HyperParameters.__dataclass_fields__:
            raise ValidationError(f"hyper_parameters.{name}", value, allowed)
        if value != getattr(parent, name):
            raise ValidationError(f"hyper_parameters.{name}", value, allowed)
    return parent.with_values(**values, hp_opt_method="fork")


__all__ = ["FORK_OVERRIDES", "check_fork_overrides"]
