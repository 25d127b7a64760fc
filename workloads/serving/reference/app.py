"""Flask side of the reference stack (run by gunicorn): same endpoint and body as the service."""
import math

from celery.exceptions import TimeoutError as CeleryTimeout
from flask import Flask, jsonify, request

from tasks import FEATURES, predict

api = Flask(__name__)


def bad(message):
    return jsonify(error={"code": "invalid_request", "message": message}), 400


@api.post("/v1/predictions")
def create():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("features"), dict):
        return bad('body must be {"features": {...}}')
    feats = body["features"]
    row = []
    for name in FEATURES:
        v = feats.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return bad(f"features.{name}: must be a finite number")
        row.append(float(v))
    if set(feats) - set(FEATURES):
        return bad("unknown feature")
    r = predict.delay(row)
    wait = request.args.get("wait", default=0, type=int)
    if wait > 0:
        try:
            out = r.get(timeout=wait / 1000.0)
        except CeleryTimeout:
            return jsonify(id=r.id, status="queued"), 202
        return jsonify(id=r.id, status="done", result=out["result"], modelVersion=out["modelVersion"], error=None)
    return jsonify(id=r.id, status="queued"), 202


@api.get("/healthz")
def healthz():
    return jsonify(status="ok")
