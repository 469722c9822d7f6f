"""Training learners on real datasets, and drawing trial hyper-parameters from a search space."""

from .datasets import DATASETS, LoadedDataset, Split, Splits, load_dataset
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
from .trainer import EarlyStopping, TrainingOutcome, hyper_parameters_for, seeds, train

__all__ = [
    "DATASETS",
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
    "draw_configurations",
    "grid_configurations",
    "hyper_parameters_for",
    "layer_configurations",
    "layers_of",
    "load_dataset",
    "load_layers",
    "seeds",
    "train",
]
