"""The serving fixtures are committed; they must pass the gate and be reproducible."""
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

from conftest import TUNING_DIR, run_gate

REPO = os.path.dirname(os.path.dirname(TUNING_DIR))
FIXTURES = os.path.join(REPO, "workloads", "serving", "test", "fixtures", "models")
SCRIPT = os.path.join(TUNING_DIR, "scripts", "make-serving-fixture.sh")
VERSION = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")  # <date>-<first 8 hex of the ONNX sha256>


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


def _regenerate(folder):
    env = dict(os.environ, PYTHON=os.environ.get("PYTHON", "") or sys.executable)
    proc = subprocess.run(["bash", SCRIPT, str(folder)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr


def _close(a, b, where):
    """Equal JSON, numbers within float32 noise (relative 1e-6); the ONNX file's hash and the
    version that carries it are left out (they follow the weights' last bits)."""
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), where
        for k in a:
            if k == "sha256":
                continue
            if k == "version" and isinstance(a[k], str) and VERSION.match(a[k]):
                assert a[k].split("-")[0] == b[k].split("-")[0], f"{where}.version"  # the date
            else:
                _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for n, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{where}[{n}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6), f"{where}: {a} vs {b}"
    else:
        assert a == b, where


def _weights(path):
    model = onnx.load(path)
    graph = [(n.op_type, list(n.input), list(n.output)) for n in model.graph.node]
    return graph, {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_fixture_script_is_deterministic_and_gives_the_committed_models(tmp_path):
    """Two runs on one machine give the same bytes. Against the committed files: the same cards
    and the same ONNX graphs, with weights equal up to float32 noise. scikit-learn's solvers
    dispatch on the CPU (OpenBLAS kernels), so another CPU can differ in a weight's last bits;
    the committed files were made on the project machine."""
    _regenerate(tmp_path / "a")
    _regenerate(tmp_path / "b")
    for version in ("v1", "v2"):
        for name in ("model.onnx", "model.json"):
            assert ((tmp_path / "a" / version / name).read_bytes()
                    == (tmp_path / "b" / version / name).read_bytes()), f"{version}/{name}"
        made = tmp_path / "a" / version
        with open(made / "model.json") as fh:
            _close(json.load(fh), card(version), f"{version}/model.json")
        graph, weights = _weights(str(made / "model.onnx"))
        graph0, weights0 = _weights(os.path.join(FIXTURES, version, "model.onnx"))
        assert graph == graph0 and sorted(weights) == sorted(weights0), version
        for k, w in weights.items():
            assert w.dtype == weights0[k].dtype and w.shape == weights0[k].shape, f"{version} {k}"
            assert np.allclose(w, weights0[k], rtol=1e-6, atol=1e-6), f"{version} {k}"
