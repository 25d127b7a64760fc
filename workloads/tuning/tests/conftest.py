import os
import subprocess
import sys

import pytest

from rayswarm_tuning.data import load_dataset
from rayswarm_tuning.export import export_model

TUNING_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Fixed configurations: GOOD has a clearly lower test RMSE than WORSE on builtin:diabetes.
GOOD = {"family": "ridge", "params": {"alpha": 1.0}}
WORSE = {"family": "random_forest",
         "params": {"n_estimators": 5, "max_depth": 2, "min_samples_leaf": 5, "max_features": 1.0}}


def run_gate(candidate, current=None, *extra):
    """Run the gate CLI as the git hook does; returns (exit code, stdout, stderr)."""
    cmd = [sys.executable, "-m", "rayswarm_tuning.gate", "--candidate", str(candidate)]
    if current is not None:
        cmd += ["--current", str(current)]
    cmd += list(extra)
    env = dict(os.environ, PYTHONPATH=TUNING_DIR)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="session")
def diabetes():
    return load_dataset("builtin:diabetes", "target")


@pytest.fixture(scope="session")
def models(tmp_path_factory, diabetes):
    """Two exported models (good, worse) through the real export path."""
    root = tmp_path_factory.mktemp("models")
    good, worse = root / "good", root / "worse"
    cards = {
        "good": export_model(diabetes, GOOD, str(good)),
        "worse": export_model(diabetes, WORSE, str(worse)),
    }
    assert cards["good"]["metric"]["value"] < cards["worse"]["metric"]["value"]
    return {"good": good, "worse": worse, "cards": cards}
