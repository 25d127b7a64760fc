"""The model card (model.json) schema: validation shared by the exporter and the gate.

Standard library only: the gate imports this on production hosts.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re

SCHEMA_VERSION = 1
CARD_FILE = "model.json"
ONNX_FILE = "model.onnx"
VERSION_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class CardError(ValueError):
    """The card is missing, unreadable or does not follow schemaVersion 1."""


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_card(model_dir: str) -> dict:
    path = os.path.join(model_dir, CARD_FILE)
    if not os.path.isfile(path):
        raise CardError(f"no {CARD_FILE} in {model_dir}")
    try:
        with open(path, encoding="utf-8") as fh:
            card = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CardError(f"{path} is not valid JSON: {exc}") from None
    validate_card(card)
    return card


def _need(obj: dict, key: str, types, where: str):
    if not isinstance(obj, dict) or key not in obj:
        raise CardError(f"model card: missing '{where}{key}'")
    value = obj[key]
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise CardError(f"model card: '{where}{key}' has the wrong type")
    if not isinstance(value, types):
        raise CardError(f"model card: '{where}{key}' has the wrong type "
                        f"({type(value).__name__})")
    return value


def _finite(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CardError(f"model card: '{where}' must be a finite number")
    return float(value)


def validate_card(card) -> None:
    """Raise CardError naming the first field that breaks the schema."""
    if not isinstance(card, dict):
        raise CardError("model card: top level must be a JSON object")
    if _need(card, "schemaVersion", int, "") != SCHEMA_VERSION:
        raise CardError(f"model card: schemaVersion {card['schemaVersion']} is not supported "
                        f"(expected {SCHEMA_VERSION})")
    if not VERSION_RE.match(_need(card, "version", str, "")):
        raise CardError("model card: 'version' must look like 20261129T201500Z-1a2b3c4d")
    _need(card, "createdAt", str, "")
    ds = _need(card, "dataset", dict, "")
    _need(ds, "name", str, "dataset.")
    if not str(_need(ds, "fingerprint", str, "dataset.")).startswith("sha256:"):
        raise CardError("model card: 'dataset.fingerprint' must start with 'sha256:'")
    for key in ("rows", "trainRows", "testRows", "seed"):
        _need(ds, key, int, "dataset.")
    _need(card, "target", str, "")
    features = _need(card, "features", list, "")
    if not features:
        raise CardError("model card: 'features' is empty")
    names = set()
    for i, feat in enumerate(features):
        where = f"features[{i}]."
        name = _need(feat, "name", str, where)
        if name in names:
            raise CardError(f"model card: feature '{name}' is listed twice")
        names.add(name)
        if _need(feat, "type", str, where) != "float32":
            raise CardError(f"model card: feature '{name}' has type {feat['type']!r}; only float32")
        lo = _finite(_need(feat, "min", (int, float), where), where + "min")
        hi = _finite(_need(feat, "max", (int, float), where), where + "max")
        if lo > hi:
            raise CardError(f"model card: feature '{name}' has min > max")
    onnx = _need(card, "onnx", dict, "")
    _need(onnx, "file", str, "onnx.")
    if os.path.basename(onnx["file"]) != onnx["file"]:
        raise CardError("model card: 'onnx.file' must be a file name beside model.json")
    if not SHA_RE.match(_need(onnx, "sha256", str, "onnx.")):
        raise CardError("model card: 'onnx.sha256' must be 64 lowercase hex digits")
    _need(onnx, "input", str, "onnx.")
    _need(onnx, "output", str, "onnx.")
    _need(onnx, "opset", int, "onnx.")
    metric = _need(card, "metric", dict, "")
    _need(metric, "name", str, "metric.")
    _finite(_need(metric, "value", (int, float), "metric."), "metric.value")
    _need(metric, "higherIsBetter", bool, "metric.")
    model = _need(card, "model", dict, "")
    _need(model, "family", str, "model.")
    _need(model, "params", dict, "model.")
    _need(card, "libraries", dict, "")
    check = _need(card, "checkSet", dict, "")
    inputs = _need(check, "inputs", list, "checkSet.")
    outputs = _need(check, "outputs", list, "checkSet.")
    tol = _finite(_need(check, "tolerance", (int, float), "checkSet."), "checkSet.tolerance")
    if tol < 0:
        raise CardError("model card: 'checkSet.tolerance' must be >= 0")
    if not inputs or len(inputs) != len(outputs):
        raise CardError("model card: 'checkSet' needs the same, non-zero number of inputs and outputs")
    for r, row in enumerate(inputs):
        if not isinstance(row, list) or len(row) != len(features):
            raise CardError(f"model card: checkSet.inputs[{r}] must have {len(features)} values "
                            "(one per feature)")
        for v in row:
            _finite(v, f"checkSet.inputs[{r}]")
    for r, v in enumerate(outputs):
        _finite(v, f"checkSet.outputs[{r}]")
    ev = card.get("evaluation", None)
    if ev is not None:  # the evaluation set the model was trained without (optional)
        _need(card, "evaluation", dict, "")
        _need(ev, "name", str, "evaluation.")
        _need(ev, "version", int, "evaluation.")
        _need(ev, "dataset", str, "evaluation.")
        if not SHA_RE.match(_need(ev, "sha256", str, "evaluation.")):
            raise CardError("model card: 'evaluation.sha256' must be 64 lowercase hex digits")
    run = card.get("run", None)
    if run is not None:  # who made the model (optional)
        _need(_need(card, "run", dict, ""), "id", str, "run.")
    fc = card.get("featureChange", None)
    if fc is not None and not isinstance(fc, str):
        raise CardError("model card: 'featureChange' must be null or a string")
