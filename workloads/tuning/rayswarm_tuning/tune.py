"""Ray Tune hyperparameter search over several scikit-learn families, then ONNX export.

  python -m rayswarm_tuning.tune --data <csv | builtin:diabetes> --target <column> --out <dir>
      [--address <ray address>] [--trials N] [--time-budget S] [--folds K] [--seed S]
      [--num-cpus N] [--families ridge,random_forest,...]

Each trial cross-validates one configuration on the training split and reports the running
mean RMSE after every fold; ASHA stops trials whose early folds are already bad. The best
configuration that finished all folds is retrained on the whole training split, tested on the
held-out split and exported (see export.py).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from .data import DataError, load_dataset, split
from .export import ExportError, export_model
from .families import FAMILIES, config_of, cv_scores

METRIC = "rmse"
# Ray's newer console output ignores `progress_reporter`; the classic CLIReporter table is
# compact and readable in CI logs, so use it unless the caller chose otherwise.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def _trainable(config: dict, X=None, y=None, folds=5, seed=42, every_fold=True):
    from ray import tune

    cfg = config_of(config)
    for i, score in enumerate(cv_scores(cfg, X, y, folds, seed), start=1):
        # tune.report waits for the driver to take the result: report each fold only when a
        # scheduler (ASHA) uses intermediate results.
        if every_fold or i == folds:
            tune.report({METRIC: score, "folds_done": i})


def init_ray(address: str | None, num_cpus: int | None):
    import ray

    if ray.is_initialized():
        return ray
    if address:
        # Ship this package to the cluster so workers need not have it installed.
        package_dir = os.path.dirname(os.path.abspath(__file__))
        ray.init(address=address, log_to_driver=False,
                 runtime_env={"py_modules": [package_dir]})
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    return ray


def run_search(X_train: np.ndarray, y_train: np.ndarray, *, trials: int, time_budget: float | None,
               folds: int, seed: int, families=FAMILIES, storage_path: str | None = None,
               early_stopping: bool = True, param_space: dict | None = None,
               verbose: int = 1, reporter: bool = True):
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


def best_config(results, folds: int) -> tuple[dict, float, dict]:
    """The finished trial (all folds done) with the lowest CV RMSE, plus a summary."""
    finished, stopped, errored = [], 0, 0
    for r in results:
        if r.error is not None:
            errored += 1
            continue
        m = r.metrics or {}
        if m.get("folds_done") == folds and math.isfinite(m.get(METRIC, math.nan)):
            finished.append(r)
        else:
            stopped += 1
    if not finished:
        raise RuntimeError(f"no trial finished all {folds} folds ({stopped} stopped early, "
                           f"{errored} failed); raise --trials or --time-budget")
    best = min(finished, key=lambda r: r.metrics[METRIC])
    summary = {"trials": len(results), "finished": len(finished), "stoppedEarly": stopped,
               "failed": errored, "folds": folds, "cvRmse": round(best.metrics[METRIC], 6)}
    return config_of(best.config), float(best.metrics[METRIC]), summary


def tune_and_export(data: str, target: str, out: str, *, address: str | None = None,
                    trials: int = 20, time_budget: float | None = None, folds: int = 5,
                    seed: int = 42, num_cpus: int | None = None, families=FAMILIES,
                    feature_change: str | None = None, verbose: int = 1) -> dict:
    ds = load_dataset(data, target)
    X_train, _, y_train, _ = split(ds, seed)
    init_ray(address, num_cpus)
    t0 = time.monotonic()
    results = run_search(X_train, y_train, trials=trials, time_budget=time_budget, folds=folds,
                         seed=seed, families=families, verbose=verbose)
    config, cv, summary = best_config(results, folds)
    summary["wallSeconds"] = round(time.monotonic() - t0, 2)
    return export_model(ds, config, out, seed=seed, feature_change=feature_change,
                        search=summary)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rayswarm_tuning.tune",
                                description="Ray Tune search + ONNX export + model card.")
    p.add_argument("--data", default="builtin:diabetes", help="CSV path or builtin:diabetes")
    p.add_argument("--target", default="target", help="numeric target column (default: target)")
    p.add_argument("--out", required=True, help="output folder for model.onnx + model.json")
    p.add_argument("--address", default=None,
                   help="Ray cluster address (e.g. auto or ray://head:10001); default: start a "
                        "local Ray")
    p.add_argument("--trials", type=int, default=20, help="number of sampled configurations")
    p.add_argument("--time-budget", type=float, default=None,
                   help="stop starting/running trials after this many seconds")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--seed", type=int, default=42, help="split/CV/search seed (default 42)")
    p.add_argument("--num-cpus", type=int, default=None,
                   help="CPUs for a local Ray (default: all cores)")
    p.add_argument("--families", default=",".join(FAMILIES),
                   help=f"comma-separated subset of {','.join(FAMILIES)}")
    p.add_argument("--feature-change", default=None,
                   help="declare an intentional feature change (written to the card)")
    args = p.parse_args(argv)
    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        p.error(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    if args.trials < 1 or args.folds < 2:
        p.error("--trials must be >= 1 and --folds >= 2")
    try:
        card = tune_and_export(args.data, args.target, args.out, address=args.address,
                               trials=args.trials, time_budget=args.time_budget,
                               folds=args.folds, seed=args.seed, num_cpus=args.num_cpus,
                               families=families, feature_change=args.feature_change)
    except (DataError, ExportError, RuntimeError) as exc:
        print(f"tune: error: {exc}", file=sys.stderr)
        return 1
    s = card["search"]
    print(f"tune: best {card['model']['family']} {card['model']['params']}")
    print(f"tune: {s['trials']} trials ({s['finished']} finished, {s['stoppedEarly']} stopped "
          f"early, {s['failed']} failed) in {s['wallSeconds']} s; cv rmse {s['cvRmse']}, "
          f"test rmse {card['metric']['value']}")
    print(f"tune: wrote {os.path.join(args.out, 'model.onnx')} and model.json "
          f"(version {card['version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
