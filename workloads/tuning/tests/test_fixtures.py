"""The serving fixtures are committed; they must pass the gate and be reproducible."""
import json
import os
import subprocess

from conftest import TUNING_DIR, run_gate

REPO = os.path.dirname(os.path.dirname(TUNING_DIR))
FIXTURES = os.path.join(REPO, "workloads", "serving", "test", "fixtures", "models")
SCRIPT = os.path.join(TUNING_DIR, "scripts", "make-serving-fixture.sh")


def card(version):
    with open(os.path.join(FIXTURES, version, "model.json")) as fh:
        return json.load(fh)


def test_committed_fixtures_pass_the_gate_in_order():
    assert run_gate(os.path.join(FIXTURES, "v1"))[0] == 0
    rc, out, err = run_gate(os.path.join(FIXTURES, "v2"), os.path.join(FIXTURES, "v1"))
    assert rc == 0, err
    assert run_gate(os.path.join(FIXTURES, "v1"), os.path.join(FIXTURES, "v2"))[0] == 1
    v1, v2 = card("v1"), card("v2")
    assert v1["features"] == v2["features"]
    assert v1["version"] < v2["version"]
    assert v2["metric"]["value"] < v1["metric"]["value"]
    assert v1["model"]["family"] != v2["model"]["family"]


def test_fixture_script_regenerates_identical_files(tmp_path):
    env = dict(os.environ, PYTHON=os.environ.get("PYTHON", "") or __import__("sys").executable)
    proc = subprocess.run(["bash", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for version in ("v1", "v2"):
        for name in ("model.onnx", "model.json"):
            with open(os.path.join(FIXTURES, version, name), "rb") as fh:
                committed = fh.read()
            assert (tmp_path / version / name).read_bytes() == committed, f"{version}/{name}"
