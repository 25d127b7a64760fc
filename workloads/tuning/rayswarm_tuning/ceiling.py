"""What the cores give without Ray: the bench's sequential work in one process, then the same
work in N processes at once (fork, no Ray, no scheduling). Benchmark, not a test.

  python -m rayswarm_tuning.ceiling [--data builtin:friedman1] [--rows N] [--trials 32]
      [--folds 5] [--seed 0] [--procs 2] [--repeat 2]

Every process does the whole work, so the ratio N x alone / all-at-once is the throughput the
machine itself gives N busy cores against one: shared caches, memory bandwidth, the
hypervisor's and the other sessions' share. It is the ceiling for any engine's speedup at that
trial length (docs/benchmarks.md, Tuning).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import numpy as np

from .bench import _load
from .data import load_dataset, split
from .families import cv_score, sample_config


def _work(X, y, configs, folds, queue=None):
    from threadpoolctl import threadpool_limits

    c0, t0 = time.process_time(), time.perf_counter()
    with threadpool_limits(limits=1):
        scores = [cv_score(c, X, y, folds, 42) for c in configs]
    out = (time.perf_counter() - t0, time.process_time() - c0, scores)
    if queue is not None:
        queue.put(out)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rayswarm_tuning.ceiling")
    p.add_argument("--data", default="builtin:friedman1")
    p.add_argument("--rows", type=int, default=None)
    p.add_argument("--trials", type=int, default=32)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args(argv)
    if args.rows is not None:
        from . import data as data_module
        data_module.FRIEDMAN1_ROWS = args.rows
    X, _, y, _ = split(load_dataset(args.data, "target"), 42)
    rng = np.random.default_rng(args.seed)
    configs = [sample_config(rng) for _ in range(args.trials)]
    ctx = mp.get_context("fork")
    ratios = []
    for rep in range(1, args.repeat + 1):
        print(f"ceiling: [{rep}/{args.repeat}] {_load()}")
        alone, alone_cpu, ref = _work(X, y, configs, args.folds)
        queue = ctx.Queue()
        procs = [ctx.Process(target=_work, args=(X, y, configs, args.folds, queue))
                 for _ in range(args.procs)]
        t0 = time.perf_counter()
        for proc in procs:
            proc.start()
        results = [queue.get() for _ in procs]
        for proc in procs:
            proc.join()
        both = time.perf_counter() - t0
        if any(r[2] != ref for r in results):
            raise SystemExit("ceiling: the processes' CV scores differ from the single run's")
        ratio = args.procs * alone / both
        ratios.append(ratio)
        each = ", ".join(f"{w:.2f} s (CPU {c:.2f} s)" for w, c, _ in results)
        print(f"ceiling: [{rep}/{args.repeat}] alone {alone:.2f} s (CPU {alone_cpu:.2f} s); "
              f"{args.procs} at once {both:.2f} s, each {each}; throughput {ratio:.2f}x "
              f"({_load()})")
    print(f"ceiling: {args.procs} processes vs one, per repetition: "
          f"{', '.join(f'{r:.2f}x' for r in sorted(ratios))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
