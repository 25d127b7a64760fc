"""A real search on a local Ray started by the test (num_cpus=2), through the CLI."""
import json
import math
import re
import time

import pytest

from conftest import TUNING_DIR, run_gate

import ray  # noqa: E402  (a missing install must fail, never skip)
from rayswarm_tuning import tune as tuning  # noqa: E402

EVAL_SET = f"{TUNING_DIR}/rayswarm_tuning/evalsets/diabetes-v1.json"


def test_ray_is_the_pinned_version():
    assert ray.__version__ == "2.60.0"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_tiny_search_finishes_fast_and_passes_the_gate(local_ray, tmp_path, models, capsys):
    out = tmp_path / "model"
    start = time.monotonic()
    rc = tuning.main(["--data", "builtin:diabetes", "--target", "target", "--out", str(out),
                      "--trials", "8", "--folds", "3", "--seed", "42", "--num-cpus", "2"])
    elapsed = time.monotonic() - start
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert elapsed < 120, f"tiny search took {elapsed:.1f} s"
    # one progress line per update on stderr, not Ray's status table
    assert "== Status ==" not in captured.out + captured.err
    lines = [x for x in captured.err.splitlines() if x.startswith("tune: ")]
    assert lines, captured.err
    for line in lines:
        assert re.match(r"tune: \d+/8 trials done.*, best cv rmse .*, elapsed \S+, ETA \S+$",
                        line), line
    assert lines[-1].startswith("tune: 8/8 trials done") and lines[-1].endswith("ETA 0s")
    card = json.loads((out / "model.json").read_text())
    search = card["search"]
    assert search["trials"] == 8 and search["folds"] == 3
    assert search["finished"] >= 1 and search["finished"] + search["stoppedEarly"] == 8
    assert card["model"]["family"] in ("ridge", "elasticnet", "random_forest",
                                       "hist_gradient_boosting")
    assert math.isfinite(card["metric"]["value"]) and card["metric"]["value"] < 80
    # the evaluation set was held out of the search and the fit; the card says which job made it
    assert card["evaluation"]["name"] == "diabetes" and card["evaluation"]["rows"] == 88
    assert card["dataset"]["heldOutRows"] == 88
    assert card["dataset"]["trainRows"] + card["dataset"]["testRows"] == 442 - 88
    assert re.match(r"^tune-\d{8}T\d{6}Z-s42-[0-9a-f]{4}$", card["run"]["id"]), card["run"]
    assert "on evaluation set diabetes v1 (88 rows held out)" in captured.out
    # the gate accepts it as a first model, and compares it with the other models
    rc, stdout, stderr = run_gate(out)
    assert rc == 0, stderr
    rc, stdout, stderr = run_gate(out, None, "--eval-set", EVAL_SET)
    assert rc == 0 and "on evaluation set diabetes v1" in stdout, stderr
    rc, stdout, stderr = run_gate(out, models["worse"])
    assert rc == 0, stderr


def test_run_search_samples_with_the_seed_and_asha_stops_some(local_ray, diabetes):
    from rayswarm_tuning.data import split

    X_train, _, y_train, _ = split(diabetes, 42)
    results = tuning.run_search(X_train, y_train, trials=10, time_budget=None, folds=4, seed=1,
                                families=("ridge", "elasticnet"))
    again = tuning.run_search(X_train, y_train, trials=10, time_budget=None, folds=4, seed=1,
                              families=("ridge", "elasticnet"), early_stopping=False)
    assert [r.config for r in results] == [r.config for r in again]  # same seed, same configs
    folds_done = [r.metrics["folds_done"] for r in results]
    assert len(folds_done) == 10
    assert min(folds_done) < 4 <= max(folds_done)  # some stopped, some ran all folds
    config, cv, summary = tuning.best_config(results, 4)
    assert config["family"] in ("ridge", "elasticnet")
    finished = [r.metrics["rmse"] for r in results if r.metrics["folds_done"] == 4]
    assert cv == min(finished)
    assert summary["finished"] + summary["stoppedEarly"] == 10
