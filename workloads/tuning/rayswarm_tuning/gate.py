"""Promotion gate: decide whether a candidate model may replace the current one.

  python -m rayswarm_tuning.gate --candidate <dir> [--current <dir>] [--allow-rollback]
      [--eval-set <manifest.json> [--eval-sha256 <hex>] [--min-improvement 0.005]]
      [--result <file.json>]

Exit 0 = accept (one line on stdout). Exit 1 = reject, with ONE line on stderr saying why.
Exit 2 = usage error. Needs only numpy + onnxruntime + the standard library (no ray, no sklearn):
it runs from the production git pre-receive hook.

Checks, in order:
  1. the candidate's model.json is valid (schemaVersion 1, all fields, check set shape);
  2. model.onnx exists and its sha256 equals card.onnx.sha256;
  3. onnxruntime loads it; it has one float input named card.onnx.input of shape [N, F] with
     F == len(card.features), and an output named card.onnx.output;
  4. running the card's check set reproduces checkSet.outputs within checkSet.tolerance;
  5. with --current (a folder holding a valid model.json; a missing folder means "no current
     model"): features (names, order, types) equal the current ones, unless the candidate
     declares featureChange; the metric name and direction are the same; and the metric is
     strictly better — unless --allow-rollback is given, which lets a worse (e.g. older) model
     through after checks 1-4 and the feature check still passed.

With --eval-set (what production machines use), check 5 compares the two models on the same
rows instead of trusting the metric each card declares about itself:
  6. the evaluation set's CSV matches its manifest's sha256 (and --eval-sha256, the checksum the
     machine was set up with);
  7. the candidate is a model for that dataset: card.dataset.name equals the set's dataset, its
     target is the set's target and every feature it takes is a column of the set;
  8. the candidate was trained with this very set held out (card.evaluation.sha256);
  9. both the candidate and the live model are run with onnxruntime on the set's rows; the
     candidate is accepted only if its RMSE is lower than the live model's by at least
     --min-improvement (relative; default 0.005 = 0.5 %): cand <= live * (1 - margin). The
     rejection line gives both scores; the cards' own test metrics are shown beside them.
--result writes the decision and both scores as JSON (the hooks keep it for the registry).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from . import card as cardlib
from . import evalset as evalsetlib

DEFAULT_MIN_IMPROVEMENT = 0.005


class Reject(Exception):
    """The candidate must not be promoted; str() is the one-line reason."""


def _load_session(path: str):
    import numpy as np  # noqa: F401  (onnxruntime needs numpy; import errors surface here)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        msg = " ".join(str(exc).split())[:300]
        raise Reject(f"candidate model.onnx does not load in onnxruntime: {msg}") from None


def check_candidate(model_dir: str) -> dict:
    """Checks 1-4 on one model folder; returns its card."""
    return _check(model_dir)[0]


def _check(model_dir: str):
    """Checks 1-4 on one model folder; returns its card and onnxruntime session."""
    import numpy as np

    if not os.path.isdir(model_dir):
        raise Reject(f"candidate folder {model_dir} does not exist")
    try:
        card = cardlib.read_card(model_dir)
    except cardlib.CardError as exc:
        raise Reject(f"candidate card invalid: {exc}") from None
    onnx_path = os.path.join(model_dir, card["onnx"]["file"])
    if not os.path.isfile(onnx_path):
        raise Reject(f"candidate has no {card['onnx']['file']} beside model.json")
    digest = cardlib.sha256_file(onnx_path)
    if digest != card["onnx"]["sha256"]:
        raise Reject(f"candidate {card['onnx']['file']} sha256 {digest[:12]}... does not match "
                     f"the card's {card['onnx']['sha256'][:12]}...")
    sess = _load_session(onnx_path)
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    n_feat = len(card["features"])
    if len(inputs) != 1:
        raise Reject(f"candidate ONNX has {len(inputs)} inputs; exactly 1 is required")
    inp = inputs[0]
    if inp.name != card["onnx"]["input"]:
        raise Reject(f"card says ONNX input '{card['onnx']['input']}' but the model's input is "
                     f"'{inp.name}'")
    if inp.type != "tensor(float)":
        raise Reject(f"candidate ONNX input is {inp.type}; tensor(float) is required")
    shape = list(inp.shape)
    if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != n_feat):
        raise Reject(f"candidate ONNX input shape is {shape} but the card lists {n_feat} "
                     "features (expected [N, F])")
    out_names = [o.name for o in outputs]
    if card["onnx"]["output"] not in out_names:
        raise Reject(f"card says ONNX output '{card['onnx']['output']}' but the model's "
                     f"outputs are {out_names}")
    X = np.asarray(card["checkSet"]["inputs"], dtype=np.float32)
    expected = np.asarray(card["checkSet"]["outputs"], dtype=np.float64)
    try:
        got = sess.run([card["onnx"]["output"]], {inp.name: X})[0]
    except Exception as exc:
        msg = " ".join(str(exc).split())[:300]
        raise Reject(f"candidate ONNX fails on the card's check set: {msg}") from None
    got = np.asarray(got, dtype=np.float64)
    if got.size != expected.size or (got.ndim == 2 and got.shape[1] != 1) or got.ndim > 2:
        raise Reject(f"candidate ONNX output shape {list(got.shape)} is not [N, 1] or [N] "
                     f"for N={expected.size}")
    got = got.reshape(-1)
    diff = np.abs(got - expected)
    tol = float(card["checkSet"]["tolerance"])
    if not np.all(diff <= tol):
        worst = int(np.nanargmax(np.where(np.isnan(diff), np.inf, diff)))
        raise Reject(f"candidate ONNX does not reproduce the card's check set: row {worst} "
                     f"gives {got[worst]:.6g}, card expects {expected[worst]:.6g} "
                     f"(tolerance {tol:.3g})")
    return card, sess


def _features(card: dict) -> list[tuple[str, str]]:
    return [(f["name"], f["type"]) for f in card["features"]]


def compare(candidate: dict, current: dict, allow_rollback: bool) -> str:
    """Check 5; returns a note for the accept line."""
    _features_compatible(candidate, current)
    cm, um = candidate["metric"], current["metric"]
    if cm["name"] != um["name"] or cm["higherIsBetter"] != um["higherIsBetter"]:
        raise Reject(f"candidate metric {cm['name']} cannot be compared with the current "
                     f"model's {um['name']}")
    better = cm["value"] > um["value"] if cm["higherIsBetter"] else cm["value"] < um["value"]
    if better:
        return f"{cm['name']} {cm['value']:.6g} better than current {um['value']:.6g}"
    if allow_rollback:
        return (f"rollback allowed: {cm['name']} {cm['value']:.6g} not better than current "
                f"{um['value']:.6g}")
    raise Reject(f"candidate {cm['name']} {cm['value']:.6g} is not better than the current "
                 f"model's {um['value']:.6g} (version {current['version']}); pass "
                 "--allow-rollback to re-promote an older model on purpose")


def score(card: dict, sess, es: "evalsetlib.EvalSet", who: str) -> float:
    """RMSE of the model on the evaluation set's rows (its own feature columns, in its order)."""
    import numpy as np

    missing = [f["name"] for f in card["features"] if f["name"] not in es.features]
    if missing:
        raise Reject(f"{who} takes features {missing} that evaluation set {es.label} "
                     f"({es.dataset}) does not have: a model for another dataset's features")
    cols = [es.features.index(f["name"]) for f in card["features"]]
    X = np.ascontiguousarray(es.X[:, cols], dtype=np.float32)
    try:
        got = sess.run([card["onnx"]["output"]], {card["onnx"]["input"]: X})[0]
    except Exception as exc:
        msg = " ".join(str(exc).split())[:300]
        raise Reject(f"{who} fails on evaluation set {es.label}: {msg}") from None
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    if got.size != es.rows or not np.all(np.isfinite(got)):
        raise Reject(f"{who} gives {got.size} values (or non-finite ones) for the {es.rows} rows of "
                     f"evaluation set {es.label}")
    return float(math.sqrt(float(np.mean((got - es.y) ** 2))))


def _card_metric(card: dict) -> str:
    m = card["metric"]
    return f"{m['value']:.6g}"


def evaluate_on_set(candidate_dir: str, current_dir: str | None, allow_rollback: bool,
                    eval_set: str, eval_sha256: str | None = None,
                    min_improvement: float = DEFAULT_MIN_IMPROVEMENT) -> tuple[str, dict]:
    """Checks 1-4 and 6-9 (see the module doc); returns the accept line and the result record."""
    try:
        es = evalsetlib.load(eval_set, eval_sha256)
    except evalsetlib.EvalSetError as exc:
        raise Reject(f"this machine's evaluation set is unusable: {exc}") from None
    cand, cand_sess = _check(candidate_dir)
    ds_name = cand["dataset"]["name"]
    if ds_name != es.dataset:
        raise Reject(f"candidate is a model for dataset {ds_name}, but this machine judges models "
                     f"on evaluation set {es.label} of {es.dataset}")
    if cand["target"] != es.target:
        raise Reject(f"candidate predicts '{cand['target']}', evaluation set {es.label} holds "
                     f"'{es.target}'")
    held = (cand.get("evaluation") or {}).get("sha256")
    if held != es.sha256:
        said = f"it held out {held[:12]}..." if held else "its card names no held-out set"
        raise Reject(f"candidate was not trained with evaluation set {es.label} "
                     f"(sha256 {es.sha256[:12]}...) held out ({said}); re-train it with the "
                     "current tuning workload")
    where = f"on evaluation set {es.label} ({es.rows} rows)"
    cand_score = score(cand, cand_sess, es, "candidate")
    result = {"evalSet": es.summary(), "metric": "rmse", "higherIsBetter": False,
              "minImprovement": min_improvement, "mode": "rollback" if allow_rollback else "promote",
              "candidate": {"version": cand["version"], "score": round(cand_score, 6),
                            "cardMetric": cand["metric"]},
              "current": None}
    head = f"gate: ACCEPT {cand['version']} ({cand['model']['family']}): "
    if current_dir is None or not os.path.exists(current_dir):
        line = (head + f"rmse {cand_score:.4f} {where}, no current model "
                f"(card's test rmse {_card_metric(cand)})")
        return line, result
    try:
        cur = cardlib.read_card(current_dir)
    except cardlib.CardError as exc:
        raise Reject(f"current model's card is unreadable, cannot compare: {exc}") from None
    if cur["version"] == cand["version"] and cur["onnx"]["sha256"] == cand["onnx"]["sha256"] \
            and not allow_rollback:
        raise Reject(f"candidate version {cand['version']} is already the current model")
    _features_compatible(cand, cur)
    try:
        cur_sess = _load_session(os.path.join(current_dir, cur["onnx"]["file"]))
    except Reject as exc:
        raise Reject(f"the live model {cur['version']} cannot be scored: {exc}") from None
    try:
        cur_score = score(cur, cur_sess, es, f"the live model {cur['version']}")
    except Reject:
        if not allow_rollback:
            raise
        cur_score = math.inf
    result["current"] = {"version": cur["version"], "score": round(cur_score, 6)
                         if math.isfinite(cur_score) else None, "cardMetric": cur["metric"]}
    need = cur_score * (1.0 - min_improvement)
    cards = f"card's test rmse: candidate {_card_metric(cand)}, live {_card_metric(cur)}"
    if cand_score <= need:
        change = (cand_score / cur_score - 1.0) * 100.0
        return (head + f"rmse {cand_score:.4f} vs live {cur_score:.4f} ({change:+.2f} %, margin "
                f"{min_improvement * 100:g} %) {where}; {cards}"), result
    if allow_rollback:
        return (head + f"rollback allowed: rmse {cand_score:.4f} vs live {cur_score:.4f} {where}; "
                f"{cards}"), result
    raise Reject(f"candidate rmse {cand_score:.4f} vs live {cur_score:.4f} (version "
                 f"{cur['version']}) {where}: not better by at least {min_improvement * 100:g} % "
                 f"(needs <= {need:.4f}); {cards}; pass --allow-rollback to re-promote an older "
                 "model on purpose")


def _features_compatible(candidate: dict, current: dict) -> None:
    cand_f, cur_f = _features(candidate), _features(current)
    if cand_f != cur_f and not (candidate.get("featureChange") or "").strip():
        cand_names, cur_names = [n for n, _ in cand_f], [n for n, _ in cur_f]
        missing = [n for n in cur_names if n not in cand_names]
        extra = [n for n in cand_names if n not in cur_names]
        if missing or extra:
            detail = (f"missing {missing} " if missing else "") + (f"new {extra}" if extra else "")
        else:
            detail = "same names, different order or types"
        raise Reject(f"candidate features differ from the current model's ({detail.strip()}) "
                     "and the card declares no featureChange")


def evaluate(candidate_dir: str, current_dir: str | None, allow_rollback: bool = False) -> str:
    """Run all checks; return the accept line or raise Reject."""
    cand = check_candidate(candidate_dir)
    note = "no current model"
    if current_dir is not None and os.path.exists(current_dir):
        try:
            cur = cardlib.read_card(current_dir)
        except cardlib.CardError as exc:
            raise Reject(f"current model's card is unreadable, cannot compare: {exc}") from None
        if cur["version"] == cand["version"] and cur["onnx"]["sha256"] == cand["onnx"]["sha256"]:
            if not allow_rollback:
                raise Reject(f"candidate version {cand['version']} is already the current model")
        note = compare(cand, cur, allow_rollback)
    return f"gate: ACCEPT {cand['version']} ({cand['model']['family']}): {note}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rayswarm_tuning.gate",
                                description="Decide whether a candidate model may be promoted.")
    p.add_argument("--candidate", required=True, help="folder with model.json + model.onnx")
    p.add_argument("--current", default=None,
                   help="folder of the model in production (missing folder = none yet)")
    p.add_argument("--allow-rollback", action="store_true",
                   help="accept a candidate whose metric is not better (deliberate rollback); "
                        "all validity and feature checks still apply")
    p.add_argument("--eval-set", default=None,
                   help="evaluation set manifest: score both models on its rows (production)")
    p.add_argument("--eval-sha256", default=None,
                   help="the evaluation set CSV's expected sha256 (what the machine was given)")
    p.add_argument("--min-improvement", type=float, default=DEFAULT_MIN_IMPROVEMENT,
                   help="relative RMSE improvement on the evaluation set the candidate needs "
                        f"(default {DEFAULT_MIN_IMPROVEMENT})")
    p.add_argument("--result", default=None, help="write the decision and scores as JSON here")
    args = p.parse_args(argv)
    if not 0.0 <= args.min_improvement < 1.0:
        p.error("--min-improvement must be >= 0 and < 1 (a fraction: 0.005 = 0.5 %)")
    if args.eval_set is None and (args.eval_sha256 or args.result):
        p.error("--eval-sha256 and --result need --eval-set")
    result = None
    try:
        if args.eval_set is None:
            line = evaluate(args.candidate, args.current, args.allow_rollback)
        else:
            line, result = evaluate_on_set(args.candidate, args.current, args.allow_rollback,
                                           args.eval_set, args.eval_sha256, args.min_improvement)
    except Reject as exc:
        print(f"gate: REJECT: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # never let a traceback replace the one-line contract
        msg = " ".join(str(exc).split())[:300]
        print(f"gate: REJECT: internal error while checking: {type(exc).__name__}: {msg}",
              file=sys.stderr)
        return 1
    if args.result and result is not None:
        result["decision"], result["line"] = "accept", line
        with open(args.result, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(result) + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
