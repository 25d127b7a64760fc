"""Ray Tune engine: one Tune trial per configuration (the engine before search.py).

Kept for the benchmark only (`python -m rayswarm_tuning.bench --engine tune`), to measure what a
Tune trial costs against search.py's fold tasks on the same configurations.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np

from .families import FAMILIES, config_of, cv_scores

METRIC = "rmse"
# Ray's newer console output ignores `progress_reporter`; the classic CLIReporter is compact.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def _trainable(config: dict, X=None, y=None, folds=5, seed=42, every_fold=True):
    from ray import tune

    cfg = config_of(config)
    for i, score in enumerate(cv_scores(cfg, X, y, folds, seed), start=1):
        # tune.report waits for the driver to take the result: report each fold only when a
        # scheduler (ASHA) uses intermediate results.
        if every_fold or i == folds:
            tune.report({METRIC: score, "folds_done": i})


def run_tune_search(X_train: np.ndarray, y_train: np.ndarray, *, trials: int,
                    time_budget: float | None, folds: int, seed: int, families=FAMILIES,
                    storage_path: str | None = None, early_stopping: bool = True,
                    param_space: dict | None = None, verbose: int = 1, reporter: bool = True):
    """Run the Ray Tune search (Ray must be initialised). Returns the ResultGrid."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search import BasicVariantGenerator

    from .families import ray_param_space

    own_storage = storage_path is None
    if own_storage:  # never litter ~/ray_results; trial files are not needed afterwards
        storage_path = tempfile.mkdtemp(prefix="rayswarm-tune-")
    trainable = tune.with_resources(
        tune.with_parameters(_trainable, X=X_train, y=y_train, folds=folds, seed=seed,
                             every_fold=early_stopping),
        {"cpu": 1})
    if early_stopping:
        scheduler = ASHAScheduler(time_attr="training_iteration", max_t=folds,
                                  grace_period=min(2, folds), reduction_factor=2)
    else:
        scheduler = FIFOScheduler()
    if param_space is None:
        param_space = ray_param_space(families)
        search_alg = BasicVariantGenerator(random_state=seed)
        num_samples = trials
    else:  # explicit configurations (benchmark): grid over the given list
        search_alg = None
        num_samples = 1
    progress = None
    if reporter:
        progress = tune.CLIReporter(
            parameter_columns={"family": "family"},
            metric_columns={METRIC: "cv rmse", "folds_done": "folds",
                            "time_total_s": "time (s)"},
            max_report_frequency=10, sort_by_metric=True, max_progress_rows=10)
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(metric=METRIC, mode="min", num_samples=num_samples,
                                    scheduler=scheduler, search_alg=search_alg,
                                    time_budget_s=time_budget, reuse_actors=True),
        run_config=tune.RunConfig(name="rayswarm-tune", storage_path=storage_path,
                                  progress_reporter=progress, verbose=verbose),
    )
    try:
        return tuner.fit()  # metrics and configs stay in memory in the ResultGrid
    finally:
        if own_storage:
            shutil.rmtree(storage_path, ignore_errors=True)
