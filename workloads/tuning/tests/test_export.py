import json
import os

import numpy as np
import onnxruntime as ort
import pytest

from rayswarm_tuning.card import CardError, read_card, sha256_file, validate_card
from rayswarm_tuning.data import split
from rayswarm_tuning.export import export_model, main as export_main
from rayswarm_tuning.families import FAMILIES, SPACE, build_model, sample_config

SMALL = {
    "ridge": {"alpha": 0.5},
    "elasticnet": {"alpha": 0.05, "l1_ratio": 0.5},
    "random_forest": {"n_estimators": 8, "max_depth": 4, "min_samples_leaf": 3,
                      "max_features": 0.7},
    "hist_gradient_boosting": {"learning_rate": 0.1, "max_iter": 30, "max_leaf_nodes": 8,
                               "min_samples_leaf": 10, "l2_regularization": 0.1},
}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_exports_with_onnx_parity(tmp_path, diabetes, family):
    card = export_model(diabetes, {"family": family, "params": SMALL[family]}, str(tmp_path))
    validate_card(card)
    assert read_card(str(tmp_path)) == card
    assert card["onnx"]["sha256"] == sha256_file(str(tmp_path / "model.onnx"))
    assert card["version"].endswith(card["onnx"]["sha256"][:8])
    # independent re-check on the whole test split: ONNX vs a fresh sklearn fit
    _, X_test, y_train, _ = split(diabetes, 42)
    X_train = split(diabetes, 42)[0]
    model = build_model(family, SMALL[family], 42).fit(X_train, y_train)
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    (inp,), outs = sess.get_inputs(), sess.get_outputs()
    assert inp.name == card["onnx"]["input"] and inp.type == "tensor(float)"
    assert inp.shape[1] == len(card["features"]) == 10
    got = sess.run([card["onnx"]["output"]], {inp.name: X_test})[0]
    assert got.dtype == np.float32 and got.shape in ((len(X_test), 1), (len(X_test),))
    assert np.max(np.abs(got.reshape(-1) - model.predict(X_test))) <= card["checkSet"]["tolerance"]


def test_card_contents(models, diabetes):
    card = models["cards"]["good"]
    assert [f["name"] for f in card["features"]] == diabetes.feature_names
    age = card["features"][0]
    assert (age["type"], age["min"], age["max"]) == ("float32", 19.0, 79.0)
    assert card["dataset"] == {"name": "builtin:diabetes", "fingerprint": diabetes.fingerprint,
                               "rows": 442, "trainRows": 354, "testRows": 88, "seed": 42,
                               "heldOutRows": 0}  # export_model() holds nothing out unless told
    assert "evaluation" not in card and card["run"]["id"].startswith("export-")
    assert card["metric"]["name"] == "rmse" and card["metric"]["higherIsBetter"] is False
    assert 40 < card["metric"]["value"] < 70
    assert card["model"] == {"family": "ridge", "params": {"alpha": 1.0}}
    assert set(card["libraries"]) >= {"scikit-learn", "skl2onnx", "onnxruntime", "ray", "numpy"}
    assert len(card["checkSet"]["inputs"]) == len(card["checkSet"]["outputs"]) == 8
    assert card["featureChange"] is None
    assert card["createdAt"].endswith("Z")


def test_source_date_epoch_makes_export_reproducible(tmp_path, diabetes, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795910400")
    cfg = {"family": "random_forest", "params": SMALL["random_forest"]}
    a = export_model(diabetes, cfg, str(tmp_path / "a"))
    b = export_model(diabetes, cfg, str(tmp_path / "b"))
    assert a == b and a["createdAt"] == "2026-11-29T00:00:00Z"
    for name in ("model.onnx", "model.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_validate_card_names_the_broken_field(models):
    card = json.loads(json.dumps(models["cards"]["good"]))
    card["features"][1]["type"] = "float64"
    with pytest.raises(CardError, match="feature 'sex' has type 'float64'"):
        validate_card(card)


def test_export_cli(tmp_path, capsys):
    rc = export_main(["--family", "ridge", "--params", '{"alpha": 2}', "--out", str(tmp_path)])
    assert rc == 0, capsys.readouterr().err
    assert read_card(str(tmp_path))["model"]["params"] == {"alpha": 2}
    rc = export_main(["--family", "ridge", "--params", "{}", "--out", str(tmp_path / "x")])
    assert rc == 1 and "export: error" in capsys.readouterr().err


def test_sampler_stays_inside_the_space():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        cfg = sample_config(rng)
        seen.add(cfg["family"])
        for name, (kind, lo, hi) in SPACE[cfg["family"]].items():
            assert lo <= cfg["params"][name] <= hi
            if kind == "int":
                assert isinstance(cfg["params"][name], int)
    assert seen == set(FAMILIES)
