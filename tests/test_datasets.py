"""Loading real datasets and splitting them without leaking valid or test statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from statsmodels.datasets import sunspots

from pol.errors import ValidationError
from pol.model import Indices
from pol.training import DATASETS, load_dataset


@pytest.mark.parametrize(
    ("name", "shape", "classes"),
    [("digits", (1797, 64), 10), ("breast_cancer", (569, 30), 2), ("wine", (178, 13), 3)],
)
def test_sklearn_datasets_are_classification_with_class_indices(name, shape, classes):
    data = load_dataset(name)

    assert data.features.shape == shape
    assert data.features.dtype == np.float32
    assert data.targets.dtype == np.int64
    assert sorted(set(data.targets.tolist())) == list(range(classes))
    assert data.dataset.task == "classification"
    assert data.dataset.rows == shape[0]
    assert data.dataset.labels == list(range(classes))
    assert len(data.dataset.features) == shape[1]
    assert data.dataset.source.startswith("sklearn.datasets.load_")
    assert data.n_outputs == classes


def test_sunspots_windows_predict_the_next_year():
    years = sunspots.load_pandas().data["SUNACTIVITY"].to_numpy()

    data = load_dataset("sunspots", window=5)

    assert data.features.shape == (len(years) - 5, 5, 1)
    assert data.dataset.task == "regression"
    assert data.dataset.window == 5
    assert data.targets.dtype == np.float32
    np.testing.assert_allclose(data.features[10, :, 0], years[10:15], rtol=1e-6)
    assert data.targets[10] == pytest.approx(years[15])


def test_time_series_default_window_and_in_order_split():
    data = load_dataset("elnino")
    indices = data.default_indices(seed=123)

    assert data.features.shape == (61 * 12 - 12, 12, 1)  # 61 years of months
    assert indices.train == list(range(len(indices.train)))
    assert max(indices.train) < min(indices.valid) < min(indices.test)


def test_splits_standardize_with_train_statistics_only():
    data = load_dataset("wine")
    indices = Indices.split(data.dataset.rows, seed=4)

    splits = data.splits(indices)

    np.testing.assert_allclose(splits.train.features.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(splits.train.features.std(axis=0), 1.0, atol=1e-4)
    assert abs(splits.valid.features.mean(axis=0)).max() > 0.01
    raw_train = data.features[indices.train]
    expected = (data.features[indices.test[0]] - raw_train.mean(0)) / raw_train.std(0)
    np.testing.assert_allclose(splits.test.features[0], expected, rtol=1e-4, atol=1e-5)
    assert splits.train.targets.tolist() == data.targets[indices.train].tolist()
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (107, 36, 35)


def test_regression_targets_are_standardized_and_restorable():
    data = load_dataset("sunspots")
    splits = data.splits(Indices.in_order(data.dataset.rows))

    assert splits.train.targets.mean() == pytest.approx(0.0, abs=1e-5)
    assert splits.train.targets.std() == pytest.approx(1.0, abs=1e-4)
    restored = splits.test.targets * splits.target_std + splits.target_mean
    np.testing.assert_allclose(restored, data.targets[-len(restored) :], rtol=1e-5)


def test_constant_features_are_centred_not_divided_by_zero():
    data = load_dataset("digits")  # some pixels are always 0

    splits = data.splits(Indices.split(data.dataset.rows, seed=0))

    assert np.isfinite(splits.train.features).all()
    assert np.isfinite(splits.test.features).all()


def test_csv_with_integer_target_is_classification(tmp_path):
    wine = load_wine(as_frame=True).frame
    path = tmp_path / "wine.csv"
    wine.to_csv(path, index=False)

    data = load_dataset("csv", csv_path=str(path), target="target")

    assert data.dataset.task == "classification"
    assert data.dataset.labels == [0, 1, 2]
    assert data.features.shape == (178, 13)
    assert data.dataset.features == list(wine.columns[:-1])
    assert data.dataset.source == "csv:wine.csv"


def test_csv_string_target_keeps_class_names(tmp_path):
    cancer = load_breast_cancer(as_frame=True)
    frame = cancer.frame.iloc[:, :4].copy()
    frame["diagnosis"] = np.where(cancer.target == 1, "benign", "malignant")
    path = tmp_path / "cancer.csv"
    frame.to_csv(path, index=False)

    data = load_dataset("csv", csv_path=str(path), target="diagnosis")

    assert data.dataset.task == "classification"
    assert data.class_names == ["benign", "malignant"]
    assert data.dataset.labels == [0, 1]
    assert int((data.targets == 0).sum()) == 357


def test_csv_float_target_is_regression_unless_overridden(tmp_path):
    frame = load_wine(as_frame=True).frame
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)

    regression = load_dataset("csv", csv_path=str(path), target="alcohol")
    forced = load_dataset("csv", csv_path=str(path), target="target", task="regression")

    assert regression.dataset.task == "regression"
    assert regression.targets.dtype == np.float32
    assert "target" in regression.dataset.features
    assert forced.dataset.task == "regression"


def test_csv_window_reads_rows_as_a_series(tmp_path):
    years = sunspots.load_pandas().data
    path = tmp_path / "sunspots.csv"
    years[["SUNACTIVITY"]].to_csv(path, index=False)

    data = load_dataset("csv", csv_path=str(path), target="SUNACTIVITY", window=8)

    assert data.features.shape == (len(years) - 8, 8, 1)
    assert data.dataset.task == "regression"
    assert data.targets[0] == pytest.approx(years["SUNACTIVITY"][8])


def test_unknown_dataset_names_the_allowed_ones():
    with pytest.raises(ValidationError) as caught:
        load_dataset("mnist")

    assert caught.value.field == "dataset.name"
    assert "digits" in caught.value.allowed and "csv" in caught.value.allowed
    assert set(DATASETS) >= {"digits", "breast_cancer", "wine", "sunspots", "csv"}


def test_csv_errors_name_the_problem(tmp_path):
    frame = pd.DataFrame({"x": np.arange(20.0), "colour": ["red", "blue"] * 10, "y": np.arange(20)})
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    short = tmp_path / "short.csv"
    frame.iloc[:5].drop(columns="colour").to_csv(short, index=False)

    cases = [
        ({"csv_path": str(tmp_path / "missing.csv"), "target": "y"}, "dataset.csv_path"),
        ({"csv_path": str(path), "target": "z"}, "dataset.target"),
        ({"csv_path": str(path), "target": None}, "dataset.target"),
        ({"csv_path": str(path), "target": "y"}, "dataset.features.colour"),
        ({"csv_path": str(short), "target": "y"}, "dataset.rows"),
    ]
    for arguments, field in cases:
        with pytest.raises(ValidationError) as caught:
            load_dataset("csv", **arguments)
        assert caught.value.field == field


def test_indices_outside_the_rows_are_rejected():
    data = load_dataset("wine")
    indices = Indices(seed=0, train=[0, 1, 500], valid=[2], test=[3])

    with pytest.raises(ValidationError) as caught:
        data.splits(indices)

    assert caught.value.field == "indices.train"
    assert caught.value.value == 500
