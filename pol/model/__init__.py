"""The POL document model: typed objects, each with one canonical document form."""

from .dataset import Dataset, Indices
from .experiment import Experiment
from .hyperparameters import HyperParameters, LayerConfiguration
from .layer import Layer
from .learner import FINISHED, STATUSES, Learner
from .performance import ConfusionMatrix, LearnerPerformance, Performance
from .search_space import CategoricalBound, FloatBound, HyperParamSearchSpace, IntBound
from .snapshot import Snapshot
from .tensor import Tensor, TensorStats

__all__ = [
    "FINISHED",
    "STATUSES",
    "CategoricalBound",
    "ConfusionMatrix",
    "Dataset",
    "Experiment",
    "FloatBound",
    "HyperParamSearchSpace",
    "HyperParameters",
    "Indices",
    "IntBound",
    "Layer",
    "LayerConfiguration",
    "Learner",
    "LearnerPerformance",
    "Performance",
    "Snapshot",
    "Tensor",
    "TensorStats",
]
