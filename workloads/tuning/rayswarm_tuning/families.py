"""Model families, their hyperparameter ranges and cross-validated scoring.

One table (SPACE) drives the numpy sampler of the search (and of the benchmark) and the Ray Tune
search space (raytune.py, for the benchmark's comparison), so all explore the same space.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import ElasticNet, Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# family -> param -> (kind, low, high); kinds: "log" (log-uniform float), "float", "int" (inclusive)
SPACE: dict[str, dict[str, tuple[str, float, float]]] = {
    "ridge": {"alpha": ("log", 1e-3, 1e3)},
    "elasticnet": {"alpha": ("log", 1e-3, 10.0), "l1_ratio": ("float", 0.05, 0.95)},
    "random_forest": {
        "n_estimators": ("int", 20, 120),
        "max_depth": ("int", 2, 10),
        "min_samples_leaf": ("int", 1, 20),
        "max_features": ("float", 0.3, 1.0),
    },
    "hist_gradient_boosting": {
        "learning_rate": ("log", 0.02, 0.3),
        "max_iter": ("int", 50, 300),
        "max_leaf_nodes": ("int", 4, 31),
        "min_samples_leaf": ("int", 5, 40),
        "l2_regularization": ("log", 1e-4, 10.0),
    },
}
FAMILIES = tuple(SPACE)


def build_model(family: str, params: dict, seed: int = 0):
    """An unfitted sklearn estimator for `family` with `params` (single-threaded: Ray parallelises)."""
    if family == "ridge":
        return make_pipeline(StandardScaler(), Ridge(alpha=float(params["alpha"])))
    if family == "elasticnet":
        return make_pipeline(StandardScaler(), ElasticNet(
            alpha=float(params["alpha"]), l1_ratio=float(params["l1_ratio"]),
            max_iter=10000, random_state=seed))
    if family == "random_forest":
        return RandomForestRegressor(
            n_estimators=int(params["n_estimators"]), max_depth=int(params["max_depth"]),
            min_samples_leaf=int(params["min_samples_leaf"]),
            max_features=float(params["max_features"]), n_jobs=1, random_state=seed)
    if family == "hist_gradient_boosting":
        return HistGradientBoostingRegressor(
            learning_rate=float(params["learning_rate"]), max_iter=int(params["max_iter"]),
            max_leaf_nodes=int(params["max_leaf_nodes"]),
            min_samples_leaf=int(params["min_samples_leaf"]),
            l2_regularization=float(params["l2_regularization"]),
            early_stopping=False, random_state=seed)
    raise ValueError(f"unknown model family '{family}'; known: {', '.join(FAMILIES)}")


def sample_config(rng: np.random.Generator, families=FAMILIES) -> dict:
    """One random configuration {"family": f, "params": {...}} drawn from SPACE with numpy."""
    family = families[int(rng.integers(len(families)))]
    params = {}
    for name, (kind, low, high) in SPACE[family].items():
        if kind == "log":
            params[name] = float(math.exp(rng.uniform(math.log(low), math.log(high))))
        elif kind == "float":
            params[name] = float(rng.uniform(low, high))
        else:
            params[name] = int(rng.integers(int(low), int(high) + 1))
    return {"family": family, "params": params}


def ray_param_space(families=FAMILIES) -> dict:
    """The same space for Ray Tune: a family choice plus a sampled sub-dict per family."""
    from ray import tune

    space: dict = {"family": tune.choice(list(families))}
    for family in families:
        sub = {}
        for name, (kind, low, high) in SPACE[family].items():
            if kind == "log":
                sub[name] = tune.loguniform(low, high)
            elif kind == "float":
                sub[name] = tune.uniform(low, high)
            else:
                sub[name] = tune.randint(int(low), int(high) + 1)  # upper bound exclusive
        space[family] = sub
    return space


def config_of(ray_config: dict) -> dict:
    """Ray's flat sample -> {"family", "params"} (drops the other families' samples)."""
    if "cfg" in ray_config:  # explicit configuration list (benchmark grid)
        return {"family": ray_config["cfg"]["family"], "params": dict(ray_config["cfg"]["params"])}
    family = ray_config["family"]
    return {"family": family, "params": {k: _plain(v) for k, v in ray_config[family].items()}}


def _plain(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y_true, float) - np.asarray(y_pred, float)) ** 2)))


def kfold_indices(n_rows: int, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, validation) row indices of every fold: the same for every trial."""
    kfold = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(kfold.split(np.zeros((n_rows, 1))))


def fold_score(config: dict, X: np.ndarray, y: np.ndarray, train_idx: np.ndarray,
               val_idx: np.ndarray, seed: int) -> float:
    """Validation RMSE of `config` fitted on one fold's training rows."""
    model = build_model(config["family"], config["params"], seed)
    model.fit(X[train_idx], y[train_idx])
    return rmse(y[val_idx], model.predict(X[val_idx]))


def running_mean(fold_rmses: list[float]) -> float:
    """CV score after len(fold_rmses) folds: the one formula every engine uses (same floats)."""
    return float(np.mean(fold_rmses))


def cv_scores(config: dict, X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> Iterator[float]:
    """Yield the running mean RMSE after each cross-validation fold (lets ASHA stop early)."""
    scores: list[float] = []
    for train_idx, val_idx in kfold_indices(len(y), folds, seed):
        scores.append(fold_score(config, X, y, train_idx, val_idx, seed))
        yield running_mean(scores)


def cv_score(config: dict, X, y, folds: int, seed: int,
             on_fold: Callable[[int, float], None] | None = None) -> float:
    score = math.inf
    for i, score in enumerate(cv_scores(config, X, y, folds, seed), start=1):
        if on_fold:
            on_fold(i, score)
    return score


def expected_fold_seconds(config: dict, n_train: int, n_features: int) -> float:
    """Rough cost of one fold (fit + predict) in seconds on one core, from the family and size.

    Only the order matters for scheduling (longest first) and ratios for the ETA; the
    coefficients were fitted on the project machine (scikit-learn 1.8, one thread). Within a
    family the estimate is within ~2x of the measured time; across families it orders well.
    """
    family, p = config["family"], config["params"]
    n, f = float(max(n_train, 1)), float(max(n_features, 1))
    if family == "ridge":
        return 1.5e-3 + 1e-8 * n * f
    if family == "elasticnet":
        return 2e-3 + 2e-8 * n * f
    if family == "random_forest":
        depth = min(float(p["max_depth"]),
                    max(1.0, math.log2(max(2.0, n / float(p["min_samples_leaf"])))))
        return 1e-3 + 5.75e-8 * float(p["n_estimators"]) * float(p["max_features"]) * f * n * depth
    if family == "hist_gradient_boosting":
        return 2e-3 + 1.1e-8 * float(p["max_iter"]) * (n * f + 2000.0 * float(p["max_leaf_nodes"]))
    return 1.0  # unknown family: schedule as a long one
