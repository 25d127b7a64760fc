"""Benchmark (not a test): the same configurations, (a) one after another in one process with
scikit-learn, (b) on Ray with all the cluster's CPUs. Prints wall time, trials/minute, both
sides' CV scores and the speedup.

  python -m rayswarm_tuning.bench [--data builtin:friedman1] [--rows N] [--trials 32]
      [--folds 5] [--seed 0] [--num-cpus N | --address HOST:PORT] [--engine pool|tune]
      [--schedule lpt|given] [--order sampled|longest-first] [--repeat N]

Both runs do identical work: the same N configurations sampled from the tuning search space
(every family), each scored by full K-fold cross-validation on the training split, no early
stopping. The sequential run limits BLAS/OpenMP to one thread (threadpoolctl); each Ray worker
does the same. Ray workers run at nice 0 (Ray's default is 15), the priority of the sequential
run. The Ray time is the search on an already started cluster whose workers are started (for
the pool engine: `search.warm_up()`, which imports scikit-learn, as the sequential side did
before its clock); the workers' start and ray.init are printed and counted separately.

Honesty rules: the load average is printed before and after each side (the machine is shared),
and the speedup is printed only when every configuration's CV score is the same float on both
sides; otherwise the bench names the differences and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

from .data import load_dataset, split
from .families import cv_score, sample_config
from .search import BATCH_SECONDS, MAX_BATCH_SECONDS


def _load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average unknown"


def session_cpu() -> float | None:
    """CPU seconds used so far by the live processes of this session (the driver and, for a
    local Ray, its raylet, GCS, workers and daemons). Linux /proc; None elsewhere."""
    try:
        sid, tick, total = os.getsid(0), os.sysconf("SC_CLK_TCK"), 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:  # fields after "(comm)": state ppid pgrp session ...
                total += int(fields[11]) + int(fields[12])  # utime stime
        return total / tick
    except (OSError, ValueError, AttributeError):
        return None


def _cpu_text(seconds: float | None) -> str:
    return "unknown" if seconds is None else f"{seconds:.1f} s"


def _key(cfg: dict) -> str:
    return json.dumps(cfg, sort_keys=True)


def _run_pool(X, y, configs, args):
    from .search import run_pool_search

    stats: dict = {}
    trials = run_pool_search(X, y, configs, folds=args.folds, seed=42, early_stopping=False,
                             schedule=args.schedule, batch_seconds=args.batch_seconds,
                             max_batch_seconds=args.max_batch_seconds,
                             in_flight_per_cpu=args.in_flight_per_cpu, stats=stats)
    lo, hi = args.batch_seconds, args.max_batch_seconds
    batching = (f"guided batches of {lo:g}-{hi:g} s" if hi > lo else f"fixed batches of {lo:g} s")
    print(f"bench: pool: {stats['calls']} Ray tasks for {len(configs) * args.folds} folds "
          f"({batching} of expected work), first result after {stats['first_result_s']:.2f} s")
    failed = [t.error for t in trials if t.error is not None]
    scores = {_key(t.config): t.metrics.get("rmse") for t in trials}
    busy = sum(t.busy_s for t in trials)
    print(f"bench: pool: CPU time of the folds in the workers {sum(t.cpu_s for t in trials):.1f} s")
    return scores, busy, failed


def _run_tune(X, y, configs, args):
    # The sequential run writes no per-trial files either.
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    from ray import tune

    from .raytune import run_tune_search

    results = run_tune_search(X, y, trials=len(configs), time_budget=None, folds=args.folds,
                              seed=42, early_stopping=False,
                              param_space={"cfg": tune.grid_search(configs)},
                              reporter=False, verbose=0)
    failed = [str(r.error) for r in results if r.error is not None]
    scores = {_key(r.config["cfg"]): (r.metrics or {}).get("rmse") for r in results}
    busy = sum((r.metrics or {}).get("time_total_s", 0.0) for r in results)
    return scores, busy, failed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rayswarm_tuning.bench")
    p.add_argument("--data", default="builtin:friedman1",
                   help="dataset (default builtin:friedman1, 4000 rows: trials of ~0.7 s; "
                        "builtin:diabetes: trials of ~0.1 s)")
    p.add_argument("--trials", type=int, default=32)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-cpus", type=int, default=os.cpu_count(),
                   help="CPUs of the local Ray (default: all cores); ignored with --address")
    p.add_argument("--address", default=None,
                   help="run the Ray side on this existing cluster (host:port) instead of a "
                        "local Ray; it uses every CPU of the cluster")
    p.add_argument("--engine", choices=["pool", "tune"], default="pool",
                   help="pool: the search engine (search.py, fold tasks on Ray); tune: one Ray "
                        "Tune trial per configuration (the previous engine, for comparison)")
    p.add_argument("--schedule", choices=["lpt", "given"], default="lpt",
                   help="pool engine: longest expected fold first (default), or folds in the "
                        "order the configurations are given")
    p.add_argument("--batch-seconds", type=float, default=BATCH_SECONDS,
                   help="pool engine: expected seconds of work per call at least (short folds "
                        f"are batched; default {BATCH_SECONDS})")
    p.add_argument("--max-batch-seconds", type=float, default=MAX_BATCH_SECONDS,
                   help="pool engine: guided batching: a call gets a share of the queued work "
                        f"between --batch-seconds and this (default {MAX_BATCH_SECONDS}); "
                        "at or below --batch-seconds: fixed batches of --batch-seconds")
    p.add_argument("--in-flight-per-cpu", type=int, default=2,
                   help="pool engine: Ray tasks in flight per CPU (default 2)")
    p.add_argument("--order", choices=["sampled", "longest-first"], default="sampled",
                   help="order in which the Ray side gets the configurations: as sampled "
                        "(default), or pre-sorted longest first by the sequential run's times")
    p.add_argument("--rows", type=int, default=None,
                   help="rows of builtin:friedman1 (default 4000); 20000 gives trials of ~3 s")
    p.add_argument("--repeat", type=int, default=1,
                   help="alternate the sequential and the Ray run this many times (same load "
                        "for both, on a shared machine) and print the median ratio")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")

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
          f"{len(y)} training rows of {args.data}; {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    # Workers at the sequential run's priority (Ray's default nice 15 halves their share on a
    # shared machine; export RAY_worker_niceness=15 to see it).
    os.environ.setdefault("RAY_worker_niceness", "0")
    import ray

    from .tune import init_ray

    own_ray = not ray.is_initialized()
    pairs = []  # (sequential s, Ray search s) per repetition
    try:
        for rep in range(1, args.repeat + 1):
            tag = f"[{rep}/{args.repeat}] " if args.repeat > 1 else ""
            seq, seq_scores, seq_times, seq_cpu = _sequential(X, y, configs, args.folds, tag)
            ray_configs = list(configs)
            if args.order == "longest-first":
                ray_configs = [c for _, c in sorted(zip(seq_times, configs), key=lambda tc: -tc[0])]
            print(f"bench: {tag}before Ray: {_load()}")
            if rep == 1:
                t0 = time.perf_counter()
                init_ray(args.address, None if args.address else args.num_cpus)
                startup = time.perf_counter() - t0
                warm = 0.0
                if args.engine == "pool":  # start the workers (import scikit-learn) before the
                    from .search import warm_up  # clock, as the sequential side did

                    t0 = time.perf_counter()
                    n = warm_up()
                    warm = time.perf_counter() - t0
                    print(f"bench: {n} Ray workers started and warm in {warm:.1f} s")
                cpus = int(ray.cluster_resources().get("CPU", 0))
                alive = [n for n in ray.nodes() if n.get("Alive")]
                nodes, cpu_nodes = len(alive), sum(1 for n in alive if n["Resources"].get("CPU"))
            s0 = session_cpu()
            t0 = time.perf_counter()
            run = _run_pool if args.engine == "pool" else _run_tune
            ray_scores, busy, failed = run(X, y, ray_configs, args)
            par = time.perf_counter() - t0
            s1 = session_cpu()
            if failed:
                raise SystemExit(f"bench: {len(failed)} Ray trials failed: {failed[0]}")
            where = f"cluster {args.address}" if args.address else "local Ray"
            what = f"engine {args.engine}" + (
                f", schedule {args.schedule}" if args.engine == "pool" else "")
            print(f"bench: {tag}Ray ({what}, order {args.order}; {where}: {nodes} nodes, "
                  f"{cpu_nodes} with CPUs, {cpus} CPUs): {par:.1f} s, "
                  f"{args.trials / par * 60:.1f} trials/min (+{startup:.1f} s ray.init; trials "
                  f"busy {busy:.1f} s in total, mean concurrency {busy / par:.2f}) ({_load()})")
            # Live processes only: Ray Tune's trial actors are gone by now, so not for it.
            ray_cpu = None if s0 is None or s1 is None or args.engine != "pool" else s1 - s0
            if not args.address:
                print(f"bench: {tag}CPU time of this session's processes during the search: "
                      f"{_cpu_text(ray_cpu)} (sequential: {seq_cpu:.1f} s)")
            if not _same_scores(configs, seq_scores, ray_scores, tag):
                return 1
            if ray_cpu and not args.address:  # pool engine on a local Ray only
                # Load-independent: what the search costs in CPU against the sequential run.
                # Under load the kernel's autogroup scheduling gives one session a fixed CPU
                # share, so the wall-clock ratio says more about the other sessions than about
                # Ray (docs/benchmarks.md).
                print(f"bench: {tag}CPU-bound estimate for {cpus} idle CPUs (not a "
                      f"measurement): {cpus * seq_cpu / ray_cpu:.2f}x = {cpus} x sequential CPU "
                      f"/ Ray-side CPU")
            print(f"bench: {tag}all {len(configs)} CV scores identical; speedup {seq / par:.2f}x "
                  f"(search), {seq / (par + warm):.2f}x with the workers' start, "
                  f"{seq / (par + warm + startup):.2f}x with ray.init too")
            pairs.append((seq, par))
    finally:
        if own_ray and ray.is_initialized():
            ray.shutdown()
    if len(pairs) > 1:
        ratios = sorted(sq / pr for sq, pr in pairs)
        print(f"bench: {len(pairs)} alternating pairs, speedup (search) per pair "
              f"{', '.join(f'{r:.2f}x' for r in ratios)}; median {statistics.median(ratios):.2f}x")
    return 0


def _sequential(X, y, configs, folds, tag=""):
    """Single-threaded scikit-learn in this process: (wall s, scores, per-trial s, CPU s)."""
    from threadpoolctl import threadpool_limits

    print(f"bench: {tag}before sequential: {_load()}")
    scores, times = [], []
    c0, t0 = time.process_time(), time.perf_counter()
    with threadpool_limits(limits=1):
        for cfg in configs:
            t1 = time.perf_counter()
            scores.append(cv_score(cfg, X, y, folds, 42))
            times.append(time.perf_counter() - t1)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"bench: {tag}sequential scikit-learn: {wall:.1f} s, {len(configs) / wall * 60:.1f} "
          f"trials/min, mean trial {wall / len(configs):.2f} s, CPU {cpu:.1f} s ({_load()})")
    return wall, scores, times, cpu


def _same_scores(configs, seq_scores, ray_scores, tag="") -> bool:
    """Print both sides' CV score of every configuration; True when all are the same float."""
    print(f"bench: {tag}CV scores (rmse), configuration by configuration:")
    differ = []
    for i, (cfg, s) in enumerate(zip(configs, seq_scores)):
        r = ray_scores.get(_key(cfg))
        same = r is not None and r == s
        if not same:
            differ.append(i)
        print(f"bench:   #{i:<3d} {cfg['family']:<22s} sequential {s!r:<20} ray {r!r:<20} "
              f"{'same' if same else 'DIFFERENT'}")
    print(f"bench: {tag}best cv rmse {min(seq_scores):.6f}")
    print(f"bench: {tag}after: {_load()}")
    if differ:
        print(f"bench: {tag}CV scores differ for {len(differ)} of {len(configs)} configurations "
              f"(#{', #'.join(map(str, differ))}): no speedup is reported")
    return not differ


if __name__ == "__main__":
    raise SystemExit(main())
