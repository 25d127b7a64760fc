"""List the model registry of production machines (GET /v1/models of their serving API).

  python3 -m rayswarm_tuning.registry [--history N] [--json] <api-url>...

One block per URL: the live version (alias `champion`), every version kept there with its card
summary (created, family, params, the gate's score on the evaluation set, the card's own test
metric, tuning run id, data checksum, git commit) and the last N promotions (rollbacks marked).
A machine that does not answer is named with the error; exit 1 if none answered.
Standard library only: it runs with the development machine's system python3.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request


def fetch(url: str, timeout: float = 10.0) -> dict:
    target = url.rstrip("/") + "/v1/models"
    with urllib.request.urlopen(target, timeout=timeout) as resp:  # noqa: S310 (our own API)
        return json.load(resp)


def _num(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def _params(p) -> str:
    if not isinstance(p, dict):
        return "-"
    text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())
    return text if len(text) <= 60 else text[:57] + "..."


def format_registry(url: str, reg: dict, history: int = 5) -> str:
    lines = [f"== {url}: live {reg.get('live') or 'none'} (champion)"]
    lines.append(f"  {'':1} {'version':<27} {'created':<20} {'family':<22} {'gate rmse':>9} "
                 f"{'card rmse':>9}  {'run':<30} {'data':<14} {'commit':<12} params")
    for v in reg.get("versions", []):
        lin = v.get("lineage") or {}
        card = (v.get("cardMetric") or {}).get("value")
        data = (lin.get("dataChecksum") or "-").replace("sha256:", "")[:12]
        lines.append(f"  {'*' if v.get('live') else ' '} {v['version']:<27} {v.get('createdAt') or '-':<20} "
                     f"{v.get('family') or '-':<22} {_num(v.get('gateScore')):>9} {_num(card):>9}  "
                     f"{lin.get('runId') or '-':<30} {data:<14} {(lin.get('commit') or '-')[:12]:<12} "
                     f"{_params(v.get('params'))}")
    hist = reg.get("history", [])[:history]
    if hist:
        lines.append(f"  last {len(hist)} of {reg.get('historyTotal', len(hist))} promotions (newest first):")
        for h in hist:
            g = h.get("gate") or {}
            what = "rollback to" if h.get("kind") == "rollback" else "promoted   "
            score = (f" gate {g.get('metric', 'rmse')} {_num(g.get('score'))} vs live "
                     f"{_num(g.get('liveScore'))}") if g.get("score") is not None else ""
            lines.append(f"    {h.get('at', '?')} {what} {h['version']}"
                         f" (was {h.get('previous') or 'none'}){score}")
    else:
        lines.append("  no promotion recorded yet")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m rayswarm_tuning.registry",
                                description="List production machines' model registries.")
    p.add_argument("urls", nargs="+", help="serving API base URLs, e.g. http://10.42.0.12:8080")
    p.add_argument("--history", type=int, default=5, help="promotions shown per machine (default 5)")
    p.add_argument("--json", action="store_true", help="print the raw answers as one JSON object")
    args = p.parse_args(argv)
    answers, ok = {}, 0
    for url in args.urls:
        try:
            reg = fetch(url)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            answers[url] = {"error": str(getattr(exc, "reason", exc))}
            if not args.json:
                print(f"== {url}: no answer ({answers[url]['error']})")
            continue
        ok += 1
        answers[url] = reg
        if not args.json:
            print(format_registry(url, reg, args.history))
    if args.json:
        print(json.dumps(answers, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
