"""The search engine (search.py) on a real local Ray (num_cpus=2): same scores as a sequential
run, longest expected first, ASHA as Ray Tune places its rungs, failures, time budget."""
import math
import re

import numpy as np
import pytest
import ray
from threadpoolctl import threadpool_limits

from rayswarm_tuning import bench
from rayswarm_tuning.data import split
from rayswarm_tuning.families import cv_score, expected_fold_seconds, sample_config
from rayswarm_tuning.search import asha_rungs, fill_batch, run_pool_search, warm_up

SMALL_RF = {"family": "random_forest",
            "params": {"n_estimators": 20, "max_depth": 2, "min_samples_leaf": 5,
                       "max_features": 0.5}}
BIG_RF = {"family": "random_forest",
          "params": {"n_estimators": 120, "max_depth": 10, "min_samples_leaf": 1,
                     "max_features": 1.0}}
BIG_HGB = {"family": "hist_gradient_boosting",
           "params": {"learning_rate": 0.1, "max_iter": 300, "max_leaf_nodes": 31,
                      "min_samples_leaf": 5, "l2_regularization": 1.0}}


def ridge(alpha):
    return {"family": "ridge", "params": {"alpha": alpha}}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def train(diabetes):
    X, _, y, _ = split(diabetes, 42)
    return X, y


def test_warm_up_starts_one_worker_per_cpu(local_ray):
    assert warm_up() == 2


def test_scores_are_the_sequential_floats(local_ray, train):
    X, y = train
    rng = np.random.default_rng(5)
    configs = [sample_config(rng) for _ in range(8)] + [SMALL_RF, ridge(3.0)]
    assert {c["family"] for c in configs} == {"ridge", "elasticnet", "random_forest",
                                              "hist_gradient_boosting"}
    trials = run_pool_search(X, y, configs, folds=4, seed=42, early_stopping=False)
    assert [t.config for t in trials] == configs  # in the given order, all finished
    with threadpool_limits(limits=1):  # sequential, as the benchmark runs it
        for t, cfg in zip(trials, configs):
            assert t.status == "finished" and t.metrics["folds_done"] == 4
            assert t.metrics["rmse"] == cv_score(cfg, X, y, 4, 42)  # the same float


def test_longest_expected_first_without_presorting(local_ray, train):
    X, y = train
    n, f = int(len(y) * 0.8), X.shape[1]
    assert (expected_fold_seconds(BIG_RF, n, f) > expected_fold_seconds(SMALL_RF, n, f)
            > expected_fold_seconds(ridge(1.0), n, f))
    configs = [ridge(0.1), SMALL_RF, ridge(1.0), BIG_HGB, ridge(10.0), BIG_RF]
    stats = {}
    run_pool_search(X, y, configs, folds=3, seed=42, early_stopping=False, stats=stats)
    # the big forest and boosting first, then the small forest, then the ridges
    assert set(stats["started"][:2]) == {3, 5} and stats["started"][2] == 1
    assert sorted(stats["started"]) == list(range(6))
    # "given" keeps the caller's order (for comparison in the benchmark)
    stats = {}
    run_pool_search(X, y, configs, folds=3, seed=42, early_stopping=False, schedule="given",
                    stats=stats)
    assert stats["started"] == list(range(6))


def test_long_trial_is_split_into_fold_tasks(local_ray, train):
    """The tail: one long configuration given last still runs on both CPUs (one task per fold,
    no batching of long folds), instead of alone at the end."""
    X, y = train
    stats = {}
    trials = run_pool_search(X, y, [ridge(1.0), BIG_RF], folds=4, seed=42,
                             early_stopping=False, stats=stats, batch_seconds=0.0,
                             max_batch_seconds=0.0)
    assert stats["calls"] == 8  # a task per fold
    assert all(t.status == "finished" for t in trials)


def test_short_folds_are_batched(local_ray, train):
    X, y = train
    configs = [ridge(a) for a in (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)]
    stats = {}
    trials = run_pool_search(X, y, configs, folds=5, seed=42, early_stopping=False,
                             batch_seconds=0.05, stats=stats)
    assert stats["calls"] < 30 / 2  # 30 folds of ~2 ms in a few tasks
    assert all(t.metrics["rmse"] == cv_score(t.config, X, y, 5, 42) for t in trials)


def test_batches_shrink_towards_the_end(local_ray, train):
    """Guided batching: large batches while much work is queued, small ones at the end."""
    X, y = train
    configs = [ridge(10.0 ** (k / 10.0)) for k in range(-20, 20)]  # 200 folds of ~2 ms
    stats, fixed = {}, {}
    trials = run_pool_search(X, y, configs, folds=5, seed=42, early_stopping=False,
                             batch_seconds=0.005, max_batch_seconds=0.05, stats=stats)
    run_pool_search(X, y, configs, folds=5, seed=42, early_stopping=False,
                    batch_seconds=0.005, max_batch_seconds=0.005, stats=fixed)
    sizes = stats["batch_sizes"]
    assert sum(sizes) == 200 and len(sizes) == stats["calls"]
    assert sizes[0] > sizes[-1]
    assert stats["calls"] < fixed["calls"]  # fewer tasks than fixed batches of the minimum
    assert all(t.metrics["rmse"] == cv_score(t.config, X, y, 5, 42) for t in trials)


def batches(costs, target, cap, max_folds=64):
    """fill_batch over a queue of expected fold seconds until it is empty: each task's costs."""
    queue, out = list(costs), []
    while queue:
        b, e = fill_batch(lambda: queue[0] if queue else None, lambda: queue.pop(0), target, cap,
                          max_folds)
        assert b and e == pytest.approx(sum(b))
        out.append(b)
    return out


def test_fill_batch_reaches_its_target_and_never_goes_past_its_cap():
    # fixed batches (cap = target): 0.02 s of 0.006 s folds is 4 folds (0.024 s) would overshoot
    assert batches([0.006] * 10, 0.02, 0.02) == [[0.006] * 3] * 3 + [[0.006]]
    # guided (cap above target): the target is reached, the cap not passed
    assert batches([0.006] * 10, 0.02, 0.03) == [[0.006] * 4] * 2 + [[0.006] * 2]
    # a fold longer than the cap goes alone; the short ones after it are batched again
    assert batches([0.3, 0.004, 0.004, 0.2, 0.01], 0.05, 0.25) == [[0.3], [0.004, 0.004, 0.2],
                                                                  [0.01]]
    # the fold that would pass the cap waits, even when the target is not reached yet
    assert batches([0.1, 0.2, 0.1], 0.25, 0.25) == [[0.1], [0.2], [0.1]]
    # target 0: one fold per task; at most max_folds per task
    assert batches([0.001] * 3, 0.0, 0.0) == [[0.001]] * 3
    assert [len(b) for b in batches([0.001] * 10, 1.0, 1.0, max_folds=4)] == [4, 4, 2]


def test_real_batches_stay_under_their_cap(local_ray, train):
    """In a real search the batches (expected seconds as the engine saw them, scaled by what the
    folds measured) never pass max_batch_seconds unless a fold is alone; the forest's long
    folds go alone. Scores stay the sequential floats."""
    X, y = train
    n, f = int(len(y) * 0.8), X.shape[1]
    cap = 0.02
    assert expected_fold_seconds(BIG_RF, n, f) > 5 * cap
    configs = [ridge(10.0 ** (k / 10.0)) for k in range(-20, 20)] + [BIG_RF]
    stats = {}
    trials = run_pool_search(X, y, configs, folds=5, seed=42, early_stopping=False,
                             batch_seconds=0.005, max_batch_seconds=cap, stats=stats)
    sizes, expected = stats["batch_sizes"], stats["batch_expected"]
    assert sum(sizes) == 205 and len(expected) == len(sizes) == stats["calls"]
    assert sizes[:4] == [1, 1, 1, 1]  # the forest's folds first (longest first), alone
    assert all(k == 1 for k, e in zip(sizes, expected) if e > cap * (1 + 1e-9))
    assert all(t.metrics["rmse"] == cv_score(t.config, X, y, 5, 42) for t in trials)


def test_guided_batching_is_the_default(local_ray, train):
    """Without batch arguments the engine (and the bench) batch guided, 0.05-0.25 s of expected
    work per task; max_batch_seconds at or below batch_seconds gives fixed batches; a negative
    one is refused."""
    import inspect

    from rayswarm_tuning import search

    params = inspect.signature(run_pool_search).parameters
    assert (params["batch_seconds"].default, params["max_batch_seconds"].default) == (0.05, 0.25)
    assert search.BATCH_SECONDS == 0.05 and search.MAX_BATCH_SECONDS == 0.25
    X, y = train
    configs = [ridge(10.0 ** (k / 10.0)) for k in range(-20, 20)]
    stats = {}
    run_pool_search(X, y, configs, folds=5, seed=42, early_stopping=False, stats=stats)
    assert sum(stats["batch_sizes"]) == 200
    assert all(k == 1 or e <= 0.25 * (1 + 1e-9)
               for k, e in zip(stats["batch_sizes"], stats["batch_expected"]))
    with pytest.raises(ValueError, match="must be >= 0"):
        run_pool_search(X, y, configs, folds=5, seed=42, max_batch_seconds=-1.0)


def test_asha_rungs_match_ray_tune():
    from ray.tune.schedulers import ASHAScheduler

    for folds, grace, rf in [(5, 2, 2), (4, 2, 2), (3, 2, 2), (10, 2, 3), (2, 2, 2), (8, 1, 2)]:
        s = ASHAScheduler(time_attr="training_iteration", max_t=folds, grace_period=grace,
                          reduction_factor=rf)
        ray_rungs = sorted(m for m, _ in s._brackets[0]._rungs)
        # a decision at the last fold stops nothing: the trial is complete
        assert asha_rungs(folds, grace, rf) == [m for m in ray_rungs if m < folds]


def test_asha_stops_bad_trials_and_keeps_the_best(local_ray, train):
    X, y = train
    # four ridges first, then clearly worse ones: at rung 2 each of the worse is below the
    # median of what the rung recorded, so ASHA stops them all (the ridges reach it first:
    # these short folds go in one task, in the given order)
    configs = [ridge(a) for a in (0.5, 1.0, 2.0, 4.0)] + \
        [{"family": "elasticnet", "params": {"alpha": 10.0, "l1_ratio": 0.9}}] * 4
    trials = run_pool_search(X, y, configs, folds=5, seed=42, schedule="given")
    stopped = [t for t in trials if t.status == "stopped"]
    assert [t.index for t in stopped if t.config["family"] == "elasticnet"] == [4, 5, 6, 7]
    assert all(t.metrics["folds_done"] in (2, 4) for t in stopped)
    assert any(t.status == "finished" for t in trials)
    for t in trials:
        if t.status == "finished":
            assert t.metrics["rmse"] == cv_score(t.config, X, y, 5, 42)


def test_a_failing_configuration_fails_its_trial_only(local_ray, train):
    X, y = train
    bad = ridge(-1.0)  # scikit-learn refuses a negative alpha
    trials = run_pool_search(X, y, [ridge(1.0), bad], folds=3, seed=42, early_stopping=False)
    assert trials[0].status == "finished"
    assert trials[1].status == "failed" and "alpha" in trials[1].error


def test_progress_updates(local_ray, train):
    X, y = train
    rng = np.random.default_rng(1)
    configs = [sample_config(rng, ("ridge", "random_forest")) for _ in range(6)]
    seen = []
    run_pool_search(X, y, configs, folds=3, seed=42, on_progress=seen.append)
    assert seen and seen[-1].final and seen[-1].done == seen[-1].total == 6
    assert seen[-1].eta == 0.0 and seen[-1].best is not None
    dones = [p.done for p in seen]
    assert dones == sorted(dones) and len(set(dones[:-1])) == len(dones[:-1])  # one per change
    bests = [p.best for p in seen if p.best is not None]
    assert bests == sorted(bests, reverse=True)  # the best so far only improves
    assert all(p.elapsed >= 0 and (p.eta is None or p.eta >= 0) for p in seen)


def test_time_budget_cuts_the_search(local_ray, train):
    X, y = train
    rng = np.random.default_rng(3)
    configs = [sample_config(rng) for _ in range(400)]
    stats = {}
    trials = run_pool_search(X, y, configs, folds=3, seed=42, time_budget=3, stats=stats)
    assert stats["wall_s"] < 20
    assert 0 < len(trials) < 400
    # waves: with a budget, configurations start in the sampled order, 4 per CPU at a time
    assert max(stats["started"][:8]) < 8
    assert all(t.status in ("finished", "stopped", "failed") for t in trials)


def test_bench_prints_both_scores_and_refuses_a_ratio_when_they_differ(local_ray, capsys,
                                                                       monkeypatch):
    argv = ["--data", "builtin:diabetes", "--trials", "4", "--folds", "3", "--seed", "0"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"before sequential: load average [\d.]+ [\d.]+ [\d.]+", out)
    assert re.search(r"after: load average [\d.]+", out)
    assert len(re.findall(r"sequential \S+ +ray \S+ +same", out)) == 4
    assert "speedup" in out
    assert "(guided batches of 0.05-0.25 s of expected work)" in out  # the engine's default

    real = bench._run_pool

    def off_by_a_bit(*a):
        scores, busy, failed = real(*a)
        k = next(iter(scores))
        scores[k] = math.nextafter(scores[k], math.inf)
        return scores, busy, failed

    monkeypatch.setattr(bench, "_run_pool", off_by_a_bit)
    assert bench.main(argv) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT" in out and "no speedup is reported" in out
    assert "speedup " not in out.replace("no speedup is reported", "")


def test_ceiling_runs_the_same_work_in_two_processes(capsys):
    from rayswarm_tuning import ceiling

    assert ceiling.main(["--data", "builtin:diabetes", "--trials", "2", "--folds", "2",
                         "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"alone [\d.]+ s .*2 at once [\d.]+ s.*throughput [\d.]+x", out)
