import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import TUNING_DIR, run_gate
from rayswarm_tuning.data import load_dataset
from rayswarm_tuning.export import export_model


def copy_model(src, dst):
    shutil.copytree(src, dst)
    return dst


def edit_card(model_dir, fn, fix_sha=False):
    path = os.path.join(model_dir, "model.json")
    with open(path) as fh:
        card = json.load(fh)
    fn(card)
    if fix_sha:
        with open(os.path.join(model_dir, "model.onnx"), "rb") as fh:
            card["onnx"]["sha256"] = hashlib.sha256(fh.read()).hexdigest()
    with open(path, "w") as fh:
        json.dump(card, fh)


def assert_rejected(result, *fragments):
    rc, out, err = result
    assert rc == 1, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # exactly one clear line, no traceback
    assert lines[0].startswith("gate: REJECT: ")
    for frag in fragments:
        assert frag in lines[0], lines[0]
    assert out == ""


def test_accepts_first_model_without_current(models):
    rc, out, err = run_gate(models["good"])
    assert rc == 0, err
    assert "ACCEPT" in out and "no current model" in out


def test_missing_current_folder_means_no_current_model(models, tmp_path):
    rc, out, err = run_gate(models["good"], tmp_path / "not-there")
    assert rc == 0, err


def test_accepts_better_model(models):
    rc, out, err = run_gate(models["good"], models["worse"])
    assert rc == 0, err
    assert "better than current" in out


def test_rejects_worse_model(models):
    worse, good = models["cards"]["worse"], models["cards"]["good"]
    assert_rejected(run_gate(models["worse"], models["good"]),
                    f"rmse {worse['metric']['value']:.6g} is not better than the current "
                    f"model's {good['metric']['value']:.6g}", "--allow-rollback")


def test_rejects_equal_model_that_is_already_current(models):
    assert_rejected(run_gate(models["good"], models["good"]), "already the current model")


def test_allow_rollback_accepts_worse_but_valid_model(models):
    rc, out, err = run_gate(models["worse"], models["good"], "--allow-rollback")
    assert rc == 0, err
    assert "rollback allowed" in out


def test_allow_rollback_still_rejects_a_broken_model(models, tmp_path):
    bad = copy_model(models["worse"], tmp_path / "bad")
    (bad / "model.onnx").write_bytes(b"not an onnx model")
    edit_card(bad, lambda c: None, fix_sha=True)
    assert_rejected(run_gate(bad, models["good"], "--allow-rollback"),
                    "does not load in onnxruntime")


def test_rejects_corrupt_onnx_with_card_sha(models, tmp_path):
    bad = copy_model(models["good"], tmp_path / "bad")
    data = bytearray((bad / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "model.onnx").write_bytes(bytes(data))
    assert_rejected(run_gate(bad), "sha256", "does not match the card")


def test_rejects_corrupt_onnx_that_does_not_load(models, tmp_path):
    bad = copy_model(models["good"], tmp_path / "bad")
    (bad / "model.onnx").write_bytes((bad / "model.onnx").read_bytes()[:100])
    edit_card(bad, lambda c: None, fix_sha=True)
    assert_rejected(run_gate(bad), "does not load in onnxruntime")


def test_rejects_missing_onnx_and_missing_card(models, tmp_path):
    no_onnx = copy_model(models["good"], tmp_path / "no-onnx")
    (no_onnx / "model.onnx").unlink()
    assert_rejected(run_gate(no_onnx), "has no model.onnx")
    no_card = copy_model(models["good"], tmp_path / "no-card")
    (no_card / "model.json").unlink()
    assert_rejected(run_gate(no_card), "no model.json")
    bad_json = copy_model(models["good"], tmp_path / "bad-json")
    (bad_json / "model.json").write_text("{ not json")
    assert_rejected(run_gate(bad_json), "is not valid JSON")


def test_rejects_card_whose_check_set_disagrees_with_onnx(models, tmp_path):
    bad = copy_model(models["good"], tmp_path / "bad")

    def shift(card):
        card["checkSet"]["outputs"][2] += 1.0

    edit_card(bad, shift)
    assert_rejected(run_gate(bad), "does not reproduce the card's check set", "row 2")


def test_rejects_card_from_another_model(models, tmp_path):
    # model.json of the ridge model next to the random forest's ONNX (sha fixed up)
    bad = copy_model(models["good"], tmp_path / "bad")
    shutil.copy(models["worse"] / "model.onnx", bad / "model.onnx")
    edit_card(bad, lambda c: None, fix_sha=True)
    assert_rejected(run_gate(bad), "does not reproduce the card's check set")


def test_rejects_card_with_wrong_input_name(models, tmp_path):
    bad = copy_model(models["good"], tmp_path / "bad")
    edit_card(bad, lambda c: c["onnx"].update(input="features"))
    assert_rejected(run_gate(bad), "card says ONNX input 'features'")


def test_rejects_card_missing_a_feature_of_its_onnx(models, tmp_path):
    bad = copy_model(models["good"], tmp_path / "bad")

    def drop(card):
        del card["features"][3]
        for row in card["checkSet"]["inputs"]:
            del row[3]

    edit_card(bad, drop)
    assert_rejected(run_gate(bad), "the card lists 9 features")


def test_rejects_card_missing_a_field(models, tmp_path):
    bad = copy_model(models["good"], tmp_path / "bad")
    edit_card(bad, lambda c: c["metric"].pop("value"))
    assert_rejected(run_gate(bad), "candidate card invalid", "missing 'metric.value'")


@pytest.fixture(scope="module")
def fewer_features(tmp_path_factory, diabetes):
    """A model trained without the 's6' column (a CSV export of diabetes minus one column)."""
    import numpy as np

    root = tmp_path_factory.mktemp("fewer")
    names = [n for n in diabetes.feature_names if n != "s6"]
    keep = [diabetes.feature_names.index(n) for n in names]
    csv = root / "diabetes-no-s6.csv"
    rows = np.column_stack([diabetes.X[:, keep].astype(float), diabetes.y])
    header = ",".join(names + ["target"])
    np.savetxt(csv, rows, delimiter=",", header=header, comments="", fmt="%.9g")
    ds = load_dataset(str(csv), "target")
    plain = export_model(ds, {"family": "ridge", "params": {"alpha": 1.0}}, str(root / "plain"))
    declared = export_model(ds, {"family": "ridge", "params": {"alpha": 1.0}},
                            str(root / "declared"), feature_change="drop s6 (lab test retired)")
    return {"plain": root / "plain", "declared": root / "declared", "card": plain}


def test_rejects_model_with_missing_features(models, fewer_features):
    # better than the tiny forest, but the 's6' input the current model takes is gone
    assert fewer_features["card"]["metric"]["value"] < models["cards"]["worse"]["metric"]["value"]
    assert_rejected(run_gate(fewer_features["plain"], models["worse"]),
                    "features differ", "missing ['s6']", "no featureChange")


def test_accepts_declared_feature_change(models, fewer_features):
    rc, out, err = run_gate(fewer_features["declared"], models["worse"])
    assert rc == 0, err


def test_rejects_reordered_features(models, tmp_path):
    bad = copy_model(models["good"], tmp_path / "bad")
    edit_card(bad, lambda c: c["features"].reverse())
    assert_rejected(run_gate(bad, models["worse"]), "same names, different order")


def test_gate_needs_only_numpy_and_onnxruntime(models):
    """Run the gate with ray/sklearn/pandas/scipy/skl2onnx/onnx made unimportable."""
    code = (
        "import sys, runpy\n"
        "BLOCK = ('ray', 'sklearn', 'pandas', 'scipy', 'skl2onnx', 'onnx', 'joblib')\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCK:\n"
        "            raise ImportError('blocked for test: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"sys.argv = ['gate', '--candidate', {str(models['good'])!r}, "
        f"'--current', {str(models['worse'])!r}]\n"
        "try:\n"
        "    runpy.run_module('rayswarm_tuning.gate', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    sys.exit(e.code)\n"
    )
    env = dict(os.environ, PYTHONPATH=TUNING_DIR)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ACCEPT" in proc.stdout


def test_requirements_gate_is_minimal():
    with open(os.path.join(TUNING_DIR, "requirements-gate.txt")) as fh:
        pins = [line.split("==")[0].lower() for line in fh
                if line.strip() and not line.startswith("#")]
    assert "numpy" in pins and "onnxruntime" in pins
    assert not {"ray", "scikit-learn", "skl2onnx", "pandas", "scipy"} & set(pins)
