"""The search engine: cross-validation folds as Ray tasks, scheduled by the driver.

Why not one Ray Tune trial per configuration: a Tune trial costs a fixed share of a core in the
driver loop, actor bookkeeping and result reporting (measured in docs/benchmarks.md). With
trials of ~0.7 s that fixed cost made Ray slower than a plain loop, and the last long trials
ran alone. Here:

- the training split and the fold indices go into Ray's object store once (`ray.put`); every
  task maps them (zero-copy on its node; shipped once per node);
- tasks, not actors: Ray reuses its worker processes, so scikit-learn is imported once per
  worker and job (`warm_up()` does it up front), and a lost worker's task is retried by Ray;
- the unit of work is one fold of one configuration, so the tail is at most one fold long;
- folds are scheduled longest expected first (LPT, `families.expected_fold_seconds`), so the
  caller need not sort anything; with a time budget, configurations are taken in waves in the
  sampled order (LPT inside a wave) so the budget does not favour the cheap or the dear ones;
- short folds are batched into one task of at least `batch_seconds` of expected work; with
  `max_batch_seconds` above it, a batch is a quarter of the queued work per CPU clamped to
  [`batch_seconds`, `max_batch_seconds`] (guided self-scheduling: few large tasks while much
  is queued, small ones at the end; the default, 0.05–0.25 s, measured in docs/benchmarks.md);
  two tasks per CPU are in flight so no worker waits for the driver;
- ASHA (asynchronous successive halving, the rule of Ray Tune's ASHAScheduler: at a rung, stop
  a trial whose running mean is worse than the top 1/reduction_factor of those recorded there)
  decides in the driver when a trial's folds up to a rung are in;
- the driver blocks in `ray.wait`, so it costs no CPU between results.

Scores are computed by the same functions as a sequential run (`families.fold_score`,
`families.running_mean`), so the CV score of a configuration is the same float.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .families import expected_fold_seconds, running_mean

METRIC = "rmse"
# Expected seconds of work per Ray task: at least BATCH_SECONDS, at most MAX_BATCH_SECONDS
# (guided: a quarter of the queued work per CPU in between). Measured in docs/benchmarks.md.
BATCH_SECONDS = 0.05
MAX_BATCH_SECONDS = 0.25
MAX_BATCH_FOLDS = 64  # folds per task at most (bounds a task's result message)


class SearchError(RuntimeError):
    """The search could not run (no Ray worker started, all workers died)."""


@dataclass
class Trial:
    """One configuration. `metrics` and `error` have the shape best_config() reads."""

    index: int
    config: dict  # {"family": ..., "params": {...}}
    fold_cost: float  # expected seconds of one fold
    folds: int
    wave: int = 0
    fold_rmse: list = field(default_factory=list)  # per fold (None until done)
    limit: int = 0  # folds allowed before the next ASHA decision
    next_fold: int = 0
    done_folds: int = 0
    busy_s: float = 0.0  # wall seconds of its folds in the workers
    cpu_s: float = 0.0  # CPU seconds of its folds in the workers
    status: str = "pending"  # pending | running | finished | stopped | failed
    error: str | None = None
    metrics: dict = field(default_factory=dict)

    def __post_init__(self):
        self.fold_rmse = [None] * self.folds

    @property
    def terminal(self) -> bool:
        return self.status in ("finished", "stopped", "failed")


@dataclass
class Progress:
    """A snapshot given to the progress callback after every change."""

    done: int  # trials finished, stopped early or failed
    total: int
    finished: int
    stopped: int
    failed: int
    best: float | None  # best CV RMSE of a trial that finished all folds
    best_family: str | None
    elapsed: float
    eta: float | None  # seconds, None when unknown
    final: bool = False


def asha_rungs(folds: int, grace: int = 2, reduction_factor: int = 2) -> list[int]:
    """Milestones (folds done) at which ASHA decides, as Ray Tune's ASHAScheduler places them."""
    grace = max(1, min(grace, folds))
    n = int(math.log(folds / grace) / math.log(reduction_factor) + 1)
    return [m for m in (grace * reduction_factor ** k for k in range(n)) if m < folds]


_REMOTE: dict = {}
_LIMITS = []  # threadpoolctl limiter of this worker process (kept alive)


def _run_folds(X, y, splits, seed: int, batch: list) -> list:
    """batch: [(trial, fold, config)] -> [(trial, fold, rmse | None, seconds, cpu seconds, error)]."""
    from .families import fold_score

    if not _LIMITS:  # one CPU per task: BLAS/OpenMP too (once per worker process)
        from threadpoolctl import threadpool_limits

        _LIMITS.append(threadpool_limits(limits=1))
    out = []
    for trial, fold, config in batch:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            train_idx, val_idx = splits[fold]
            score = fold_score(config, X, y, train_idx, val_idx, seed)
            error = None
        except Exception as exc:  # a bad configuration fails its trial, not the search
            score, error = None, f"{type(exc).__name__}: {exc}"
        out.append((trial, fold, score, time.perf_counter() - t0, time.process_time() - c0,
                    error))
    return out


def _warm() -> int:
    import os

    from . import families  # noqa: F401  (scikit-learn's import is most of a worker's start)

    return os.getpid()


def _remote(name: str):
    import ray

    if not _REMOTE:
        _REMOTE["run"] = ray.remote(num_cpus=1)(_run_folds)
        _REMOTE["warm"] = ray.remote(num_cpus=1)(_warm)
    return _REMOTE[name]


def warm_up(timeout: float = 120.0) -> int:
    """Start one worker per CPU of the cluster and import the fold code in it (Ray reuses
    these processes for the search's tasks). Returns the number of distinct workers."""
    import ray

    warm = _remote("warm")
    pids = ray.get([warm.remote() for _ in range(cluster_cpus())], timeout=timeout)
    return len(set(pids))


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def fill_batch(next_cost: Callable[[], float | None], pop: Callable[[], object], target: float,
               cap: float, max_folds: int = MAX_BATCH_FOLDS) -> tuple[list, float]:
    """One task's folds, taken in queue order: `next_cost()` is the expected seconds of the next
    fold (None: the queue is empty), `pop()` takes it. Folds are added until the batch holds
    `target` seconds, but a fold that would take a batch past `cap` waits for the next batch (a
    fold longer than `cap` goes alone), and at most `max_folds`. Returns (folds, expected s)."""
    batch: list = []
    expected = 0.0
    while len(batch) < max_folds:
        cost = next_cost()
        if cost is None or (batch and (expected >= target or expected + cost > cap)):
            break
        batch.append(pop())
        expected += cost
    return batch, expected


def run_pool_search(X: np.ndarray, y: np.ndarray, configs: list[dict], *, folds: int, seed: int,
                    early_stopping: bool = True, time_budget: float | None = None,
                    workers: int | None = None, schedule: str = "lpt",
                    batch_seconds: float = BATCH_SECONDS,
                    max_batch_seconds: float = MAX_BATCH_SECONDS,
                    in_flight_per_cpu: int = 2, wave_size: int | None = None,
                    on_progress: Callable[[Progress], None] | None = None,
                    poll_seconds: float = 1.0, start_timeout: float = 120.0,
                    grace: int = 2, reduction_factor: int = 2,
                    stats: dict | None = None) -> list[Trial]:
    """Cross-validate `configs` on the Ray cluster (Ray must be initialised).

    Returns the trials that started, in the order of `configs`. `schedule`: "lpt" (longest
    expected fold first) or "given" (the order of `configs`). `wave_size`: configurations per
    wave; default all of them without a time budget, 4 per CPU with one. `stats`, when given,
    receives: cpus, calls (Ray tasks), batch_sizes (folds per task, in dispatch order),
    batch_expected (expected seconds of each task, as take_batch saw them),
    first_result_s, wall_s, started (trial indexes in the order they started). A task gets at
    least `batch_seconds` (unless the next fold would take it past `max_batch_seconds`) and at
    most `max_batch_seconds` of expected work (a fold longer than that goes alone): a quarter
    of the queued work per CPU, so batches shrink towards the end (guided self-scheduling).
    `max_batch_seconds <= batch_seconds` gives fixed batches of `batch_seconds`; both 0 give one
    fold per task. `in_flight_per_cpu` tasks per CPU are queued. Call warm_up() first to keep the
    workers' start (scikit-learn's import) out of the search.
    """
    import ray

    if schedule not in ("lpt", "given"):
        raise ValueError(f"schedule must be 'lpt' or 'given', not {schedule!r}")
    t_start = time.monotonic()
    deadline = t_start + time_budget if time_budget is not None else None
    n_workers = workers or cluster_cpus()
    n_train = int(len(y) * (folds - 1) / folds)
    if wave_size is None:
        wave_size = len(configs) if time_budget is None else max(1, 4 * n_workers)
    trials = [Trial(i, c, expected_fold_seconds(c, n_train, X.shape[1]), folds,
                    wave=i // max(1, wave_size)) for i, c in enumerate(configs)]
    rungs = asha_rungs(folds, grace, reduction_factor) if early_stopping else []
    recorded: dict[int, list[float]] = {m: [] for m in rungs}

    heap: list[tuple] = []
    started: list[int] = []  # trial indexes in the order their first fold was dispatched

    queued_cost = 0.0  # expected seconds of the folds in the heap
    if batch_seconds < 0 or max_batch_seconds < 0:
        raise ValueError("batch_seconds and max_batch_seconds must be >= 0")
    max_batch = max(batch_seconds, max_batch_seconds)  # <= batch_seconds: fixed batches

    def allow(t: Trial, limit: int) -> None:
        nonlocal queued_cost
        t.limit = limit
        while t.next_fold < t.limit:
            prio = t.index if schedule == "given" else -t.fold_cost
            heapq.heappush(heap, (t.wave, prio, t.index, t.next_fold))
            t.next_fold += 1
            queued_cost += t.fold_cost

    for t in trials:
        allow(t, rungs[0] if rungs else folds)

    # Expected-to-measured seconds, learned from finished folds (batch sizes and the ETA).
    est_done = meas_done = 0.0

    def next_cost() -> float | None:
        """Expected seconds of the next fold in the heap; folds of finished trials are dropped."""
        nonlocal queued_cost
        while heap:
            t = trials[heap[0][2]]
            if not t.terminal:
                return t.fold_cost * factor
            heapq.heappop(heap)
            queued_cost -= t.fold_cost
        return None

    def pop_fold() -> tuple:
        nonlocal queued_cost
        _, _, i, fold = heapq.heappop(heap)
        t = trials[i]
        queued_cost -= t.fold_cost
        if t.status == "pending":
            started.append(i)
        t.status = "running"
        return (i, fold, t.config)

    def take_batch() -> list:
        nonlocal factor
        factor = meas_done / est_done if est_done > 0 else 1.0
        # Guided self-scheduling: a batch is a share of the work still queued (fewer, larger
        # tasks while much is left), between batch_seconds and max_batch_seconds of expected
        # work; the share shrinks as the queue empties, so the tail stays short.
        target = min(max_batch, max(batch_seconds, queued_cost * factor / (4 * n_workers)))
        batch, expected = fill_batch(next_cost, pop_fold, target, max_batch)
        if batch:
            batch_expected.append(expected)
        return batch

    factor = 1.0  # expected-to-measured seconds at the last take_batch
    run_folds = _remote("run")
    X_ref, y_ref = ray.put(X), ray.put(y)  # once; every task maps the same objects
    from .families import kfold_indices

    splits_ref = ray.put(kfold_indices(len(y), folds, seed))
    in_flight: dict = {}  # ObjectRef -> batch
    max_in_flight = in_flight_per_cpu * n_workers  # queued batches: no worker waits for the driver
    timed_out = False
    reported = 0
    calls = 0
    batch_sizes: list[int] = []  # folds per task, in dispatch order
    batch_expected: list[float] = []  # their expected seconds
    first_result_s = None

    def snapshot(final=False) -> Progress:
        fin = [t for t in trials if t.status == "finished"]
        best = min(fin, key=lambda t: t.metrics[METRIC]) if fin else None
        now = time.monotonic()
        elapsed = now - t_start
        remaining = sum(t.fold_cost * (folds - t.done_folds) for t in trials if not t.terminal)
        eta = None
        if final or remaining == 0:
            eta = 0.0
        elif est_done > 0:
            eta = remaining / (est_done / elapsed)
            if deadline is not None:
                eta = min(eta, max(0.0, deadline - now))
        return Progress(done=sum(t.terminal for t in trials), total=len(trials),
                        finished=len(fin), stopped=sum(t.status == "stopped" for t in trials),
                        failed=sum(t.status == "failed" for t in trials),
                        best=best.metrics[METRIC] if best else None,
                        best_family=best.config["family"] if best else None,
                        elapsed=elapsed, eta=eta, final=final)

    def settle(t: Trial) -> None:
        """All folds up to t.limit are in: finish, stop (ASHA) or allow the next folds."""
        scores = t.fold_rmse[:t.done_folds]
        t.metrics = {METRIC: running_mean(scores), "folds_done": t.done_folds,
                     "time_total_s": t.busy_s}
        if t.done_folds == folds:
            t.status = "finished"
            return
        m = t.done_folds
        if m in recorded:
            values = recorded[m]
            cutoff = None
            if values:  # Ray's rule in min mode: the (100/rf)th percentile of the recorded
                cutoff = float(np.nanpercentile(values, 100.0 / reduction_factor))
            values.append(t.metrics[METRIC])
            if cutoff is not None and t.metrics[METRIC] > cutoff:
                t.status = "stopped"
                return
            later = [r for r in rungs if r > m]
            allow(t, later[0] if later else folds)

    def handle(batch_result: list) -> None:
        nonlocal est_done, meas_done
        for i, fold, score, seconds, cpu, error in batch_result:
            t = trials[i]
            t.busy_s += seconds
            t.cpu_s += cpu
            if t.terminal or t.fold_rmse[fold] is not None:
                continue
            if error is not None:
                t.status, t.error = "failed", error
                t.metrics = {"folds_done": t.done_folds, "time_total_s": t.busy_s}
                continue
            t.fold_rmse[fold] = score
            t.done_folds += 1
            est_done += t.fold_cost
            meas_done += seconds
            if t.done_folds == t.limit and all(s is not None for s in t.fold_rmse[:t.limit]):
                settle(t)

    try:
        while True:
            now = time.monotonic()
            if deadline is not None and not timed_out and now >= deadline:
                timed_out = True
                heap.clear()
                queued_cost = 0.0
                for ref in list(in_flight):
                    ray.cancel(ref)  # queued batches are dropped; running ones may finish
            while not timed_out and len(in_flight) < max_in_flight:
                batch = take_batch()
                if not batch:
                    break
                in_flight[run_folds.remote(X_ref, y_ref, splits_ref, seed, batch)] = batch
                calls += 1
                batch_sizes.append(len(batch))
            if not in_flight:
                break
            timeout = poll_seconds
            if deadline is not None and not timed_out:
                timeout = max(0.0, min(timeout, deadline - now))
            if first_result_s is None:
                timeout = min(timeout, max(0.0, t_start + start_timeout - now))
            done, _ = ray.wait(list(in_flight), num_returns=1, timeout=timeout)
            if not done and first_result_s is None and time.monotonic() - t_start >= start_timeout:
                raise SearchError(f"no fold ran on the Ray cluster in {start_timeout:.0f} s: "
                                  f"does it have a free CPU?")
            for ref in done:
                batch = in_flight.pop(ref)
                if first_result_s is None:
                    first_result_s = time.monotonic() - t_start
                try:
                    handle(ray.get(ref))
                except ray.exceptions.TaskCancelledError:
                    pass
                except ray.exceptions.RayError as exc:  # worker/node lost after Ray's retries
                    for i, fold, _ in batch:
                        t = trials[i]
                        if not t.terminal:
                            t.status, t.error = "failed", f"{type(exc).__name__}: {exc}"
                            t.metrics = {"folds_done": t.done_folds, "time_total_s": t.busy_s}
            if on_progress is not None:
                n_done = sum(t.terminal for t in trials)
                if n_done != reported:  # one update per change in trials done
                    reported = n_done
                    on_progress(snapshot())
        for t in trials:  # cut by the time budget: what is in counts as stopped
            if t.status == "running":
                t.status = "stopped"
                n = 0
                while n < folds and t.fold_rmse[n] is not None:
                    n += 1
                t.metrics = {METRIC: running_mean(t.fold_rmse[:n]) if n else math.nan,
                             "folds_done": n, "time_total_s": t.busy_s}
        if on_progress is not None:
            on_progress(snapshot(final=True))
    finally:
        for ref in in_flight:  # an error above: do not leave work queued on the cluster
            ray.cancel(ref)
        if stats is not None:
            stats.update(cpus=n_workers, calls=calls, batch_sizes=batch_sizes,
                         batch_expected=batch_expected,
                         first_result_s=first_result_s,
                         wall_s=time.monotonic() - t_start, started=list(started))
    return [t for t in trials if t.status != "pending"]
