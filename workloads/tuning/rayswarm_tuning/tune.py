"""Hyperparameter search on Ray over several scikit-learn families, then ONNX export.

  python -m rayswarm_tuning.tune --data <csv | builtin:diabetes> --target <column> --out <dir>
      [--address <ray address>] [--trials N] [--time-budget S] [--folds K] [--seed S]
      [--num-cpus N] [--families ridge,random_forest,...] [--progress-interval S]

Each trial cross-validates one configuration on the training split; its folds run as tasks on
a pool of Ray actors (search.py), longest expected first, and ASHA stops trials whose early
folds are already bad. One progress line per update goes to stderr (progress.py). The best
configuration that finished all folds is retrained on the whole training split, tested on the
held-out split and exported (see export.py).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

from .data import DataError, load_dataset, split
from .evalset import EvalSetError
from .export import ExportError, export_model, holdout, new_run_id, resolve_eval_set
from .families import FAMILIES, config_of, sample_config
from .progress import ProgressPrinter
from .search import METRIC, run_pool_search


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
               folds: int, seed: int, families=FAMILIES, early_stopping: bool = True,
               configs: list[dict] | None = None, on_progress=None, **engine):
    """Run the search on the Ray cluster (Ray must be initialised); returns the trials.

    `trials` configurations are sampled (numpy, `seed`) from the families' space unless
    `configs` gives them. Every trial cross-validates one configuration; with
    `early_stopping`, ASHA (grace 2 folds, reduction factor 2) stops bad ones at a rung. Extra
    keyword arguments go to search.run_pool_search (schedule, workers, batch_seconds, ...).
    """
    if configs is None:
        rng = np.random.default_rng(seed)
        configs = [sample_config(rng, families) for _ in range(trials)]
    return run_pool_search(X_train, y_train, configs, folds=folds, seed=seed,
                           early_stopping=early_stopping, time_budget=time_budget,
                           on_progress=on_progress, **engine)


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
    config = best.config if "params" in best.config else config_of(best.config)
    summary = {"trials": len(results), "finished": len(finished), "stoppedEarly": stopped,
               "failed": errored, "folds": folds, "cvRmse": round(best.metrics[METRIC], 6)}
    return config, float(best.metrics[METRIC]), summary


def tune_and_export(data: str, target: str, out: str, *, address: str | None = None,
                    trials: int = 20, time_budget: float | None = None, folds: int = 5,
                    seed: int = 42, num_cpus: int | None = None, families=FAMILIES,
                    feature_change: str | None = None, verbose: int = 1,
                    on_progress=None, eval_set: str | None = "auto") -> dict:
    """Search, then export the best configuration. `on_progress(search.Progress)` is called
    after every change (default: progress.ProgressPrinter on stderr; verbose=0: none).
    `eval_set` (auto: the one shipped for the dataset; none; or a manifest path): its rows are
    removed before the split, so neither the search nor the export sees them."""
    ds = load_dataset(data, target)
    es = resolve_eval_set(ds, eval_set)
    X_train, _, y_train, _ = split(holdout(ds, es), seed)
    run_id = new_run_id("tune", seed)
    init_ray(address, num_cpus)
    if on_progress is None and verbose:
        on_progress = ProgressPrinter()
    t0 = time.monotonic()
    results = run_search(X_train, y_train, trials=trials, time_budget=time_budget, folds=folds,
                         seed=seed, families=families, on_progress=on_progress)
    config, cv, summary = best_config(results, folds)
    summary["wallSeconds"] = round(time.monotonic() - t0, 2)
    return export_model(ds, config, out, seed=seed, feature_change=feature_change,
                        search=summary, eval_set=es, run_id=run_id)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rayswarm_tuning.tune",
                                description="Search on Ray + ONNX export + model card.")
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
    p.add_argument("--eval-set", default="auto",
                   help="evaluation set held out of search and training (auto = the one shipped "
                        "for the dataset, none, or a manifest path)")
    p.add_argument("--progress-interval", type=float, default=2.0,
                   help="seconds between progress lines on stderr (default 2; 0 = every update)")
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
                               families=families, feature_change=args.feature_change,
                               on_progress=ProgressPrinter(interval=args.progress_interval),
                               eval_set=args.eval_set)
    except (DataError, ExportError, EvalSetError, RuntimeError) as exc:  # SearchError is a RuntimeError
        print(f"tune: error: {exc}", file=sys.stderr)
        return 1
    s = card["search"]
    print(f"tune: best {card['model']['family']} {card['model']['params']}")
    print(f"tune: {s['trials']} trials ({s['finished']} finished, {s['stoppedEarly']} stopped "
          f"early, {s['failed']} failed) in {s['wallSeconds']} s; cv rmse {s['cvRmse']}, "
          f"test rmse {card['metric']['value']}")
    ev = card.get("evaluation")
    if ev:
        print(f"tune: rmse {ev['rmse']} on evaluation set {ev['name']} v{ev['version']} "
              f"({ev['rows']} rows held out)")
    print(f"tune: wrote {os.path.join(args.out, 'model.onnx')} and model.json "
          f"(version {card['version']}, run {card['run']['id']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
