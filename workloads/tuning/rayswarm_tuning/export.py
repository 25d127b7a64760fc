"""Retrain a configuration on the training split, test it, export ONNX + model card.

CLI (a fixed configuration, no search — used by the serving fixture script):
  python -m rayswarm_tuning.export --data builtin:diabetes --target target \
      --family ridge --params '{"alpha": 1.0}' --out out/model
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from importlib import metadata

import numpy as np

from . import card as cardlib
from . import evalset as evalsetlib
from .data import DataError, Dataset, load_dataset, split, without_rows
from .families import FAMILIES, build_model, rmse

INPUT_NAME = "input"
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
CHECK_ROWS = 8


class ExportError(RuntimeError):
    """Export failed (conversion error or ONNX predictions differ from scikit-learn's)."""


def f32(value) -> float:
    """Shortest decimal that reads back as the same float32 (42.2, not 42.20000076293945)."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="0"))


def tolerance_for(y: np.ndarray) -> float:
    """Absolute tolerance for ONNX (float32) vs scikit-learn (float64) predictions."""
    return float(max(1e-3, 1e-5 * float(np.max(np.abs(y)))))


def library_versions() -> dict:
    out = {}
    for dist in ("scikit-learn", "skl2onnx", "onnxruntime", "onnx", "ray", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def created_now() -> dt.datetime:
    """Creation time; SOURCE_DATE_EPOCH (seconds) pins it for reproducible fixtures."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc)
    return dt.datetime.now(tz=dt.timezone.utc).replace(microsecond=0)


def to_onnx_bytes(model, n_features: int) -> tuple[bytes, str, str, int]:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    try:
        onx = to_onnx(model, initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
                      target_opset=TARGET_OPSET)
    except Exception as exc:  # skl2onnx raises many types
        raise ExportError(f"skl2onnx could not convert {type(model).__name__}: {exc}") from exc
    if len(onx.graph.input) != 1 or len(onx.graph.output) != 1:
        raise ExportError("exported ONNX graph must have exactly one input and one output")
    opset = next(o.version for o in onx.opset_import if o.domain in ("", "ai.onnx"))
    return onx.SerializeToString(), onx.graph.input[0].name, onx.graph.output[0].name, int(opset)


def onnx_predict(onnx_bytes: bytes, input_name: str, output_name: str, X: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    out = sess.run([output_name], {input_name: np.ascontiguousarray(X, dtype=np.float32)})[0]
    return np.asarray(out, dtype=np.float64).reshape(-1)


def resolve_eval_set(ds: Dataset, eval_set: str | None) -> "evalsetlib.EvalSet | None":
    """`auto` = the shipped evaluation set for this dataset (none shipped: None), `none` =
    None, else a manifest path. The set must fit the data (evalset.held_out_mask)."""
    if eval_set in (None, "none"):
        return None
    path = evalsetlib.find_for(ds.name) if eval_set == "auto" else eval_set
    if path is None:
        return None
    return evalsetlib.load(path)


def holdout(ds: Dataset, es: "evalsetlib.EvalSet | None") -> Dataset:
    """`ds` without the evaluation set's rows (they are never trained, searched or tested on)."""
    if es is None:
        return ds
    return without_rows(ds, evalsetlib.held_out_mask(es, ds.feature_names, ds.target, ds.X, ds.y,
                                                     ds.name))


def new_run_id(kind: str, seed: int) -> str:
    """Who made a model: `<kind>-<UTC time>-s<seed>-<4 hex>` (the card's run.id); without the
    random part when SOURCE_DATE_EPOCH pins the time (reproducible fixtures)."""
    base = f"{kind}-{created_now().strftime('%Y%m%dT%H%M%SZ')}-s{seed}"
    return base if os.environ.get("SOURCE_DATE_EPOCH") else f"{base}-{os.urandom(2).hex()}"


def export_model(ds: Dataset, config: dict, out_dir: str, seed: int = 42,
                 test_fraction: float = 0.2, feature_change: str | None = None,
                 search: dict | None = None, eval_set: "evalsetlib.EvalSet | None" = None,
                 run_id: str | None = None) -> dict:
    """Fit `config` on the training split, check ONNX parity, write model.onnx + model.json.

    With `eval_set`, its rows are removed from `ds` first (split, fit and test never see them)
    and the card records the set and the model's RMSE on it."""
    full_rows = ds.rows
    ds_used = holdout(ds, eval_set)
    X_train, X_test, y_train, y_test = split(ds_used, seed, test_fraction)
    model = build_model(config["family"], config["params"], seed)
    model.fit(X_train, y_train)
    sk_test = np.asarray(model.predict(X_test), dtype=np.float64)
    test_rmse = rmse(y_test, sk_test)

    onnx_bytes, in_name, out_name, opset = to_onnx_bytes(model, X_train.shape[1])
    tol = tolerance_for(y_train)
    ort_test = onnx_predict(onnx_bytes, in_name, out_name, X_test)
    diff = float(np.max(np.abs(ort_test - sk_test)))
    if not diff <= tol:
        raise ExportError(f"ONNX predictions differ from scikit-learn by {diff:.3g} "
                          f"(> tolerance {tol:.3g}) on the test split")

    os.makedirs(out_dir, exist_ok=True)
    import hashlib

    onnx_sha = hashlib.sha256(onnx_bytes).hexdigest()
    created = created_now()
    check_X = X_test[:CHECK_ROWS]
    card = {
        "schemaVersion": cardlib.SCHEMA_VERSION,
        "version": created.strftime("%Y%m%dT%H%M%SZ") + "-" + onnx_sha[:8],
        "createdAt": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dataset": {"name": ds.name, "fingerprint": ds.fingerprint, "rows": full_rows,
                    "trainRows": int(len(y_train)), "testRows": int(len(y_test)), "seed": seed,
                    "heldOutRows": full_rows - ds_used.rows},
        "target": ds.target,
        "features": [
            {"name": name, "type": "float32", "min": f32(ds.X[:, i].min()),
             "max": f32(ds.X[:, i].max())}
            for i, name in enumerate(ds.feature_names)],
        "onnx": {"file": cardlib.ONNX_FILE, "sha256": onnx_sha, "input": in_name,
                 "output": out_name, "opset": opset},
        "metric": {"name": "rmse", "value": round(test_rmse, 6), "higherIsBetter": False},
        "model": {"family": config["family"], "params": config["params"]},
        "libraries": library_versions(),
        "checkSet": {"inputs": [[f32(v) for v in row] for row in check_X],
                     "outputs": [float(v) for v in sk_test[:CHECK_ROWS]],
                     "tolerance": tol},
        "featureChange": feature_change,
    }
    if eval_set is not None:
        eval_pred = onnx_predict(onnx_bytes, in_name, out_name, eval_set.X)
        card["evaluation"] = {**eval_set.summary(), "heldOut": True,
                              "rmse": round(rmse(eval_set.y, eval_pred), 6)}
    card["run"] = {"id": run_id or new_run_id("export", seed)}
    if search is not None:
        card["search"] = search
    cardlib.validate_card(card)
    _atomic_write(os.path.join(out_dir, cardlib.ONNX_FILE), onnx_bytes)
    _atomic_write(os.path.join(out_dir, cardlib.CARD_FILE),
                  (json.dumps(card, indent=2) + "\n").encode())
    return card


def _atomic_write(path: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rayswarm_tuning.export",
                                description="Export one fixed configuration to ONNX + model card.")
    p.add_argument("--data", default="builtin:diabetes", help="CSV path or builtin:diabetes")
    p.add_argument("--target", default="target", help="target column (default: target)")
    p.add_argument("--family", required=True, choices=FAMILIES)
    p.add_argument("--params", default="{}", help="JSON object of hyperparameters")
    p.add_argument("--out", required=True, help="output folder for model.onnx + model.json")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--feature-change", default=None,
                   help="declare an intentional feature change (written to the card)")
    p.add_argument("--eval-set", default="auto",
                   help="evaluation set manifest to hold out (auto = the one shipped for the "
                        "dataset, none = hold nothing out)")
    args = p.parse_args(argv)
    try:
        params = json.loads(args.params)
        ds = load_dataset(args.data, args.target)
        card = export_model(ds, {"family": args.family, "params": params}, args.out,
                            seed=args.seed, feature_change=args.feature_change,
                            eval_set=resolve_eval_set(ds, args.eval_set))
    except (DataError, ExportError, evalsetlib.EvalSetError, json.JSONDecodeError, KeyError) as exc:
        print(f"export: error: {exc}", file=sys.stderr)
        return 1
    print(f"exported {card['model']['family']} version {card['version']} "
          f"test rmse={card['metric']['value']:.4f} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
