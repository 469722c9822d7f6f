"""POL: an experiment database and analysis service for deep-learning hyper-parameter search."""

__version__ = "0.1.0"
