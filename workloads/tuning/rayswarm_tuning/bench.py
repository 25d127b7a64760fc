"""Benchmark (not a test): the same configurations, (a) one after another in one process with
scikit-learn, (b) as Ray Tune trials on all cores. Prints wall time, trials/minute and speedup.

  python -m rayswarm_tuning.bench [--data builtin:friedman1] [--trials 32] [--folds 5]
      [--seed 0] [--num-cpus N]

Both runs do identical work: the same N configurations sampled from the tuning search space
(every family), each scored by full K-fold cross-validation on the training split, no early
stopping. The sequential run limits BLAS/OpenMP to one thread (threadpoolctl) so it is
truly sequential; Ray sets OMP_NUM_THREADS=1 in each 1-CPU trial. Ray workers run at nice 0
(Ray's default is 15), the same priority as the sequential run. The Ray time is tuner.fit()
on an already started local cluster; Ray start-up is printed separately.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from .data import load_dataset, split
from .families import cv_score, sample_config


def _load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rayswarm_tuning.bench")
    p.add_argument("--data", default="builtin:friedman1",
                   help="dataset (default builtin:friedman1: 4000 rows; diabetes trials are "
                        "too short to amortise Ray's per-trial overhead)")
    p.add_argument("--trials", type=int, default=32)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-cpus", type=int, default=os.cpu_count())
    p.add_argument("--order", choices=["sampled", "longest-first"], default="sampled",
                   help="order in which Ray Tune gets the trials: as sampled (default), or longest "
                        "first by the sequential run's per-trial times (LPT scheduling; same work)")
    p.add_argument("--rows", type=int, default=None,
                   help="rows of builtin:friedman1 (default 4000). Each trial must run for seconds, "
                        "not a fraction of one, for Ray Tune's fixed per-trial cost to be amortised")
    args = p.parse_args(argv)

    if args.rows is not None:
        if args.rows < 100:
            p.error("--rows must be >= 100")
        from . import data as data_module
        data_module.FRIEDMAN1_ROWS = args.rows
    ds = load_dataset(args.data, "target")
    X, _, y, _ = split(ds, 42)
    rng = np.random.default_rng(args.seed)
    configs = [sample_config(rng) for _ in range(args.trials)]
    counts = {f: sum(c["family"] == f for c in configs) for f in sorted({c["family"] for c in configs})}
    print(f"bench: {args.trials} configurations {counts}, {args.folds}-fold CV on "
          f"{len(y)} training rows of {args.data}; {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"bench: before: {_load()}")

    # (a) sequential, single-threaded scikit-learn in this process
    from threadpoolctl import threadpool_limits

    seq_scores = []
    seq_times = []
    t0 = time.perf_counter()
    with threadpool_limits(limits=1):
        for cfg in configs:
            t1 = time.perf_counter()
            seq_scores.append(cv_score(cfg, X, y, args.folds, 42))
            seq_times.append(time.perf_counter() - t1)
    seq = time.perf_counter() - t0
    print(f"bench: sequential scikit-learn: {seq:.1f} s, {args.trials / seq * 60:.1f} trials/min "
          f"({_load()})")

    # (b) Ray Tune, one CPU per trial, all cores
    # Ray starts its workers at nice 15 so they yield to its own daemons. On a machine that
    # other jobs share, that alone halves their CPU share; run them at the same priority as
    # the sequential baseline (export RAY_worker_niceness=15 to see Ray's default).
    os.environ.setdefault("RAY_worker_niceness", "0")
    # The sequential run writes no per-trial files either.
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    import ray
    from ray import tune

    from .tune import run_search

    ray_configs = list(configs)
    if args.order == "longest-first":
        ray_configs = [c for _, c in sorted(zip(seq_times, configs), key=lambda tc: -tc[0])]
    print(f"bench: Ray Tune trial order: {args.order}")
    t0 = time.perf_counter()
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        results = run_search(X, y, trials=args.trials, time_budget=None, folds=args.folds,
                             seed=42, early_stopping=False,
                             param_space={"cfg": tune.grid_search(ray_configs)},
                             reporter=False, verbose=0)
        par = time.perf_counter() - t0
    finally:
        ray.shutdown()
    errors = [r.error for r in results if r.error is not None]
    if errors:
        raise SystemExit(f"bench: {len(errors)} Ray trials failed: {errors[0]}")
    ray_scores = sorted(r.metrics["rmse"] for r in results)
    busy = sum(r.metrics.get("time_total_s", 0.0) for r in results)
    same = np.allclose(sorted(seq_scores), ray_scores, rtol=1e-9)
    print(f"bench: Ray Tune ({args.num_cpus} CPUs): {par:.1f} s, "
          f"{args.trials / par * 60:.1f} trials/min (+{startup:.1f} s Ray start-up; trials busy {busy:.1f} s in total, "
          f"mean concurrency {busy / par:.2f}) "
          f"({_load()})")
    print(f"bench: speedup {seq / par:.2f}x (tuning loop), {seq / (par + startup):.2f}x "
          f"including Ray start-up; same CV scores in both runs: {same}")
    print(f"bench: best cv rmse {min(seq_scores):.3f}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
