"""Dataset loading and validation (CSV files or the diabetes set that ships with scikit-learn).

Every rejection raises DataError with one line that names the file, the column and the fix.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

BUILTIN_PREFIX = "builtin:"
BUILTINS = ("diabetes", "friedman1")
FRIEDMAN1_ROWS = 4000
MIN_ROWS = 20


class DataError(ValueError):
    """The data cannot be used for training; the message says why."""


@dataclass(frozen=True)
class Dataset:
    name: str  # "builtin:diabetes" or the CSV file name
    fingerprint: str  # "sha256:<hex>"
    target: str
    feature_names: list[str]
    X: np.ndarray  # float32, shape [rows, features]
    y: np.ndarray  # float64, shape [rows]

    @property
    def rows(self) -> int:
        return int(self.X.shape[0])


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _load_builtin(which: str) -> tuple[pd.DataFrame, str]:
    if which not in BUILTINS:
        raise DataError(f"unknown built-in dataset '{BUILTIN_PREFIX}{which}'; available: "
                        + ", ".join(BUILTIN_PREFIX + b for b in BUILTINS))
    if which == "friedman1":
        # Larger synthetic regression problem (Friedman #1, fixed seed): for benchmarks.
        from sklearn.datasets import make_friedman1

        X, y = make_friedman1(n_samples=FRIEDMAN1_ROWS, n_features=10, noise=1.0, random_state=0)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        frame["target"] = y
    else:
        from sklearn.datasets import load_diabetes

        # Unscaled features (age in years, bmi, blood pressure, ...): the served API takes real values.
        frame = load_diabetes(as_frame=True, scaled=False).frame.copy()
    # Fingerprint of the exact table (columns + values), independent of how sklearn stores it.
    fp = _sha256(frame.to_csv(index=False, float_format="%.17g").encode())
    return frame, fp


def _read_csv(path: str) -> tuple[pd.DataFrame, str]:
    if not os.path.isfile(path):
        raise DataError(f"data file not found: {path}")
    with open(path, "rb") as fh:
        raw = fh.read()
    if not raw.strip():
        raise DataError(f"data file is empty: {path}")
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except pd.errors.EmptyDataError:
        raise DataError(f"data file is empty: {path}") from None
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[0]
        raise DataError(f"data file is not valid CSV: {path}: {first}") from None
    if frame.shape[0] == 0:
        raise DataError(f"data file has a header but no data rows: {path}")
    return frame, _sha256(raw)


def _numeric_column(frame: pd.DataFrame, column: str, role: str, source: str) -> np.ndarray:
    series = frame[column]
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna() & series.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{role} column '{column}' in {source} is not numeric: value {series.iloc[row]!r} "
            f"in data row {row + 1}; encode it as numbers or drop the column")
    values = converted.to_numpy(dtype=np.float64)
    if np.isnan(values).all():
        raise DataError(f"{role} column '{column}' in {source} has only missing values; drop it")
    missing = int(np.isnan(values).sum())
    if missing:
        raise DataError(f"{role} column '{column}' in {source} has {missing} missing value(s); "
                        "fill or drop those rows first")
    if not np.isfinite(values).all():
        raise DataError(f"{role} column '{column}' in {source} has infinite values")
    return values


def load_dataset(data: str, target: str = "target") -> Dataset:
    """Load `data` (a CSV path or 'builtin:<name>') and validate it for regression on `target`."""
    if data.startswith(BUILTIN_PREFIX):
        frame, fingerprint = _load_builtin(data[len(BUILTIN_PREFIX):])
        name = data
    else:
        frame, fingerprint = _read_csv(data)
        name = os.path.basename(data)
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(set(frame.columns)) != len(frame.columns):
        dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
        raise DataError(f"{name} has duplicate column names: {', '.join(dupes)}")
    if target not in frame.columns:
        raise DataError(f"target column '{target}' not found in {name}; columns are: "
                        + ", ".join(frame.columns))
    features = [c for c in frame.columns if c != target]
    if not features:
        raise DataError(f"{name} has no feature columns besides the target '{target}'")
    if frame.shape[0] < MIN_ROWS:
        raise DataError(f"{name} has {frame.shape[0]} data rows; at least {MIN_ROWS} are needed "
                        "for a train/test split and cross-validation")
    y = _numeric_column(frame, target, "target", name)
    columns = [_numeric_column(frame, c, "feature", name) for c in features]
    X = np.column_stack(columns).astype(np.float32)
    if not np.isfinite(X).all():
        raise DataError(f"{name} has feature values that overflow float32")
    return Dataset(name=name, fingerprint=fingerprint, target=target,
                   feature_names=features, X=X, y=y)


def without_rows(ds: Dataset, drop: np.ndarray) -> Dataset:
    """The same dataset (name, fingerprint) minus the rows where `drop` is True."""
    keep = ~np.asarray(drop, dtype=bool)
    return Dataset(name=ds.name, fingerprint=ds.fingerprint, target=ds.target,
                   feature_names=list(ds.feature_names), X=ds.X[keep], y=ds.y[keep])


def split(ds: Dataset, seed: int, test_fraction: float = 0.2):
    """Deterministic shuffled train/test split: same data + seed => same rows."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(ds.rows)
    n_test = max(1, int(round(ds.rows * test_fraction)))
    test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    return ds.X[train_idx], ds.X[test_idx], ds.y[train_idx], ds.y[test_idx]
