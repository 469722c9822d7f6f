"""Real datasets a learner can be trained on, loaded from files bundled with installed packages.

Tabular classification sets come from scikit-learn (`digits`, `breast_cancer`, `wine`).
Time series come from statsmodels and become windowed sequence tasks: each row is
`window` consecutive values and its target is the value that follows them (a regression).
`csv` reads a user's file. Nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..model import Dataset, Indices

DATASETS = ("digits", "breast_cancer", "wine", "sunspots", "elnino", "csv")
DEFAULT_WINDOW = 12
# A split needs rows in train, valid and test; fewer rows than this cannot give that.
MIN_ROWS = 10
# A CSV target of integers, booleans or strings with at most this many distinct values
# is a classification target; anything else is a regression target.
MAX_CLASSES = 20


@dataclass
class Split:
    """The standardized features and targets of one split."""

    features: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)


@dataclass
class Splits:
    """Train, valid and test splits, standardized with statistics of the train rows only.

    For regression the targets are standardized too; `target_mean` and `target_std`
    turn a standardized prediction back into the original scale
    (`prediction * target_std + target_mean`). For classification they are 0 and 1.
    """

    train: Split
    valid: Split
    test: Split
    target_mean: float = 0.0
    target_std: float = 1.0

    def __iter__(self):
        return iter((("train", self.train), ("valid", self.valid), ("test", self.test)))


@dataclass
class LoadedDataset:
    """A dataset's description and its rows as arrays.

    `features` is float32 of shape (rows, n_features), or (rows, window, n_features) for a
    windowed sequence task. `targets` holds int64 class indices 0..C-1 for classification
    (`dataset.labels[i]` is the label of class i; `class_names[i]` its name in the source)
    and float32 values for regression.
    """

    dataset: Dataset
    features: np.ndarray
    targets: np.ndarray
    class_names: list[str] = field(default_factory=list)

    @property
    def task(self) -> str:
        """Return "classification" or "regression"."""
        return self.dataset.task

    @property
    def is_sequence(self) -> bool:
        """Return True when each row is a window of time steps."""
        return self.features.ndim == 3

    @property
    def n_outputs(self) -> int:
        """Return the number of learner outputs: classes, or 1 for regression."""
        return len(self.dataset.labels) if self.task == "classification" else 1

    def default_indices(self, seed: int) -> Indices:
        """Return the split to use: shuffled for tabular rows, in time order for sequences."""
        rows = len(self.targets)
        return Indices.in_order(rows) if self.is_sequence else Indices.split(rows, seed)

    def splits(self, indices: Indices) -> Splits:
        """Return standardized train, valid and test arrays for `indices`.

        Feature means and standard deviations are fitted on the train rows only (for
        sequences, over the train rows and all their time steps); a feature constant on
        the train rows is only centred. Regression targets are standardized the same way.
        """
        rows = {
            name: self._rows(name, getattr(indices, name)) for name in ("train", "valid", "test")
        }
        train = self.features[rows["train"]]
        axes = (0, 1) if self.is_sequence else (0,)
        mean = train.mean(axis=axes, dtype=np.float64)
        std = _nonzero(train.std(axis=axes, dtype=np.float64))
        target_mean, target_std = 0.0, 1.0
        if self.task == "regression":
            target_mean = float(self.targets[rows["train"]].mean(dtype=np.float64))
            target_std = float(
                _nonzero(np.asarray(self.targets[rows["train"]].std(dtype=np.float64)))
            )

        def split(name: str) -> Split:
            features = ((self.features[rows[name]] - mean) / std).astype(np.float32)
            targets = self.targets[rows[name]]
            if self.task == "regression":
                targets = ((targets - target_mean) / target_std).astype(np.float32)
            return Split(features, targets)

        return Splits(split("train"), split("valid"), split("test"), target_mean, target_std)

    def _rows(self, name: str, rows: list[int]) -> np.ndarray:
        count = len(self.targets)
        array = np.asarray(rows, dtype=np.int64)
        if array.size == 0 and name != "test":
            raise ValidationError(f"indices.{name}", rows, "at least one row")
        if array.size and (array.min() < 0 or array.max() >= count):
            bad = int(array[(array < 0) | (array >= count)][0])
            raise ValidationError(f"indices.{name}", bad, f"row numbers 0..{count - 1}")
        return array


def load_dataset(
    name: str,
    *,
    csv_path: str | None = None,
    target: str | None = None,
    window: int | None = None,
    task: str | None = None,
) -> LoadedDataset:
    """Return the dataset called `name`, one of DATASETS.

    `window` applies to time series (default 12 for `sunspots` and `elnino`) and to a
    CSV file read as a time series. `csv_path` and `target` are required for `csv`;
    `task` ("classification" or "regression") overrides the rule by which a CSV target's
    task is chosen (see `load_csv`).
    """
    if name not in DATASETS:
        raise ValidationError("dataset.name", name, "one of " + ", ".join(DATASETS))
    if window is not None and (isinstance(window, bool) or int(window) != window or window < 1):
        raise ValidationError("dataset.window", window, "an integer >= 1")
    if name == "csv":
        if not csv_path:
            raise ValidationError("dataset.csv_path", csv_path, "the path of a CSV file")
        return load_csv(csv_path, target=target, window=window, task=task)
    if name in _SKLEARN:
        if window is not None:
            raise ValidationError("dataset.window", window, f"None for the tabular dataset {name}")
        return _load_sklearn(name)
    return _load_series(name, window or DEFAULT_WINDOW)


def load_csv(
    path: str, *, target: str | None, window: int | None = None, task: str | None = None
) -> LoadedDataset:
    """Return a user's CSV file as a dataset: every column but `target` is a feature.

    Without a window each row is one example. With a window the file is read as a time
    series in row order: each example is `window` consecutive rows of the feature columns
    (and of the target column too when it is numeric, since its past values are known)
    and its target is the target column of the row that follows them.

    The task is classification when the target column holds integers, booleans or
    strings with at most 20 distinct values; otherwise (floats, or many distinct values)
    it is regression. `task` overrides the rule.
    """
    if target is None:
        raise ValidationError("dataset.target", target, "the name of the target column")
    if task is not None and task not in ("classification", "regression"):
        raise ValidationError("dataset.task", task, "classification or regression")
    if not os.path.isfile(path):
        raise ValidationError("dataset.csv_path", path, "the path of an existing CSV file")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValidationError("dataset.csv_path", path, f"a readable CSV file ({error})") from None
    if target not in frame.columns:
        raise ValidationError(
            "dataset.target", target, "one of the columns " + ", ".join(map(str, frame.columns))
        )

    feature_names = [str(column) for column in frame.columns if column != target]
    for column in feature_names:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise ValidationError(
                f"dataset.features.{column}", str(frame[column].dtype), "numeric values only"
            )
    frame = frame.dropna()
    column = frame[target]
    task = task or _csv_task(column)
    if task == "regression" and not pd.api.types.is_numeric_dtype(column):
        raise ValidationError("dataset.target", target, "a numeric column for regression")
    source = f"csv:{os.path.basename(path)}"
    if window is None:
        features = frame[feature_names].to_numpy(dtype=np.float32)
        if not feature_names:
            raise ValidationError(
                "dataset.features", [], "at least one feature column besides the target"
            )
        return _finish(
            target, source, feature_names, features, column.to_numpy(), task, None, "csv"
        )

    numeric_target = pd.api.types.is_numeric_dtype(column)
    input_names = feature_names + ([target] if numeric_target else [])
    if not input_names:
        raise ValidationError(
            "dataset.features", [], "at least one numeric column to read as a series"
        )
    values = frame[input_names].to_numpy(dtype=np.float32)
    features, targets = _windows(values, column.to_numpy(), window)
    return _finish(target, source, input_names, features, targets, task, window, "csv")


_SKLEARN = {
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
}


def _load_sklearn(name: str) -> LoadedDataset:
    from sklearn import datasets

    loader: Callable = getattr(datasets, _SKLEARN[name])
    bunch = loader()
    feature_names = [str(item) for item in getattr(bunch, "feature_names", [])]
    if len(feature_names) != bunch.data.shape[1]:
        feature_names = [f"x{index}" for index in range(bunch.data.shape[1])]
    loaded = _finish(
        "class",
        f"sklearn.datasets.{_SKLEARN[name]}",
        feature_names,
        bunch.data.astype(np.float32),
        bunch.target,
        "classification",
        None,
        name,
    )
    if hasattr(bunch, "target_names"):
        loaded.class_names = [str(item) for item in bunch.target_names]
    return loaded


def _load_series(name: str, window: int) -> LoadedDataset:
    """Return a statsmodels series as windows predicting the next value."""
    from statsmodels import datasets

    if name == "sunspots":
        # Yearly mean sunspot number, 1700-2008.
        frame = datasets.sunspots.load_pandas().data
        series, column = frame["SUNACTIVITY"].to_numpy(), "SUNACTIVITY"
        source = "statsmodels.datasets.sunspots"
    else:
        # Monthly sea surface temperature of the El Nino region, 1950-2010, read month by month.
        frame = datasets.elnino.load_pandas().data
        series, column = frame.drop(columns="YEAR").to_numpy().ravel(), "temperature"
        source = "statsmodels.datasets.elnino"
    values = series.astype(np.float32).reshape(-1, 1)
    features, targets = _windows(values, series, window)
    return _finish(column, source, [column], features, targets, "regression", window, name)


def _windows(values: np.ndarray, targets: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Return windows of `window` rows of `values` and the target of the row after each."""
    count = len(values) - window
    if count < MIN_ROWS:
        raise ValidationError(
            "dataset.window",
            window,
            f"a window that leaves at least {MIN_ROWS} rows of {len(values)}",
        )
    steps = np.arange(window)[None, :] + np.arange(count)[:, None]
    return values[steps], targets[window:]


def _csv_task(column: pd.Series) -> str:
    discrete = (
        pd.api.types.is_integer_dtype(column)
        or pd.api.types.is_bool_dtype(column)
        or not pd.api.types.is_numeric_dtype(column)
    )
    return "classification" if discrete and column.nunique() <= MAX_CLASSES else "regression"


def _finish(
    target: str,
    source: str,
    feature_names: list[str],
    features: np.ndarray,
    targets: np.ndarray,
    task: str,
    window: int | None,
    name: str,
) -> LoadedDataset:
    rows = len(targets)
    if rows < MIN_ROWS:
        raise ValidationError("dataset.rows", rows, f"at least {MIN_ROWS} rows")
    if not np.isfinite(features).all():
        raise ValidationError("dataset.features", "non-finite values", "finite numbers")
    class_names: list[str] = []
    labels: list[int] = []
    if task == "classification":
        classes, class_targets = np.unique(targets, return_inverse=True)
        if len(classes) < 2:
            raise ValidationError("dataset.target", target, "a column with at least two classes")
        class_names = [str(item) for item in classes.tolist()]
        numeric = np.issubdtype(classes.dtype, np.integer) or np.issubdtype(classes.dtype, np.bool_)
        labels = [int(item) for item in classes] if numeric else list(range(len(classes)))
        targets = class_targets.astype(np.int64)
    else:
        targets = np.asarray(targets, dtype=np.float32)
        if not np.isfinite(targets).all():
            raise ValidationError("dataset.target", target, "finite numbers")
    dataset = Dataset(
        name=name,
        source=source,
        rows=rows,
        features=list(feature_names),
        target=target,
        task=task,
        window=window,
        labels=labels,
    )
    return LoadedDataset(
        dataset, np.ascontiguousarray(features, dtype=np.float32), targets, class_names
    )


def _nonzero(std: np.ndarray) -> np.ndarray:
    return np.where(std > 0, std, 1.0)
