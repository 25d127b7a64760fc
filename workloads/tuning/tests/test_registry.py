"""The development machine's registry listing (python3 -m rayswarm_tuning.registry)."""
import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import TUNING_DIR

# The shape GET /v1/models answers (workloads/serving/src/model/registry.ts).
ANSWER = {
    "live": "20261201T230137Z-c1a47798", "aliases": {"champion": "20261201T230137Z-c1a47798"},
    "versions": [
        {"version": "20261201T230137Z-c1a47798", "live": True, "createdAt": "2026-12-01T23:01:37Z",
         "family": "elasticnet", "params": {"alpha": 0.104278, "l1_ratio": 0.548}, "target": "target",
         "cardMetric": {"name": "rmse", "value": 49.387}, "gateScore": 57.3138,
         "lineage": {"runId": "tune-20261201T230130Z-s1-037b", "dataset": "builtin:diabetes",
                     "dataChecksum": "sha256:2365fc77f87c803ad10a", "evalSet": "diabetes v1",
                     "commit": "0123456789abcdef0123"}, "liveSince": ["2026-12-01T23:02:00Z"]},
        {"version": "20261201T230125Z-7de10b0e", "live": False, "createdAt": "2026-12-01T23:01:25Z",
         "family": "ridge", "params": {"alpha": 0.43}, "target": "target", "cardMetric": None,
         "gateScore": 57.6306, "lineage": {}, "liveSince": []},
    ],
    "history": [
        {"version": "20261201T230137Z-c1a47798", "kind": "promote", "at": "2026-12-01T23:05:00Z",
         "previous": "20261201T230125Z-7de10b0e", "gate": {"metric": "rmse", "score": 57.3138, "liveScore": 57.6306}},
        {"version": "20261201T230125Z-7de10b0e", "kind": "rollback", "at": "2026-12-01T23:04:00Z",
         "previous": "20261201T230137Z-c1a47798", "gate": None},
    ],
    "historyTotal": 4,
}


def serve(answer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps(answer).encode()
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=TUNING_DIR)
    return subprocess.run([sys.executable, "-m", "rayswarm_tuning.registry", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_lists_live_versions_lineage_and_history_and_names_a_silent_machine():
    srv = serve(ANSWER)
    try:
        up = f"http://127.0.0.1:{srv.server_address[1]}"
        down = f"http://127.0.0.1:{free_port()}"
        p = run_cli(up, down)
    finally:
        srv.shutdown()
    assert p.returncode == 0, p.stderr
    out = p.stdout
    print(out)
    assert f"== {up}: live 20261201T230137Z-c1a47798 (champion)" in out
    live = next(line for line in out.splitlines() if line.startswith("  * "))
    for part in ("20261201T230137Z-c1a47798", "elasticnet", "57.3138", "49.3870",
                 "tune-20261201T230130Z-s1-037b", "2365fc77f87c", "0123456789ab", "alpha=0.1043"):
        assert part in live, (part, live)
    assert "last 2 of 4 promotions" in out
    assert "rollback to 20261201T230125Z-7de10b0e (was 20261201T230137Z-c1a47798)" in out
    assert "gate rmse 57.3138 vs live 57.6306" in out
    assert f"== {down}: no answer" in out


def test_exit_1_when_no_machine_answers():
    p = run_cli(f"http://127.0.0.1:{free_port()}")
    assert p.returncode == 1 and "no answer" in p.stdout
