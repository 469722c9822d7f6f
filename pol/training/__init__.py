"""Training learners on real datasets, and drawing trial hyper-parameters from a search space."""

from .datasets import DATASETS, LoadedDataset, Split, Splits, load_dataset
from .forks import FORK_OVERRIDES, check_fork_overrides
from .learners import (
    GRU,
    LSTM,
    MLP,
    ElmanRNN,
    build_learner,
    layer_configurations,
    layers_of,
    load_layers,
)
from .search import draw_configurations, grid_configurations
from .trainer import (
    EarlyStopping,
    TrainingOutcome,
    hyper_parameters_for,
    load_module,
    seeds,
    train,
)

__all__ = [
    "DATASETS",
    "FORK_OVERRIDES",
    "GRU",
    "LSTM",
    "MLP",
    "EarlyStopping",
    "ElmanRNN",
    "LoadedDataset",
    "Split",
    "Splits",
    "TrainingOutcome",
    "build_learner",
    "check_fork_overrides",
    "draw_configurations",
    "grid_configurations",
    "hyper_parameters_for",
    "layer_configurations",
    "layers_of",
    "load_dataset",
    "load_layers",
    "load_module",
    "seeds",
    "train",
]
