"""`manage.py serve` on a fresh SQLite file: health answers, ticks advance, Ctrl-C stops it.

This is what `make run` does after bootstrap; .ci/run also runs `make run` itself.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return None


def test_serve_ticks_in_process_and_stops_cleanly_on_ctrl_c(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    }
    env.update(
        OPSSUITE_VAR_DIR=str(tmp_path),
        OPSSUITE_TICK_SECONDS="0.3",
        OPSSUITE_ADMIN_PASSWORD="pw-Smoke-123",
    )  # noqa: E501
    py = sys.executable
    boot = subprocess.run(
        [py, "manage.py", "bootstrap"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )  # noqa: E501
    assert boot.returncode == 0, boot.stderr
    assert (tmp_path / "opssuite.sqlite3").exists()
    port = _free_port()
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [py, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # noqa: E501
    try:
        deadline = time.monotonic() + 60
        first = None
        while time.monotonic() < deadline and first is None:
            first = _health(port)
            time.sleep(0.2)
        assert first is not None and first["status"] == "ok" and first["mode"] == "embedded"
        later = first
        while (
            time.monotonic() < deadline and later["tick"]["last_id"] < first["tick"]["last_id"] + 2
        ):  # noqa: E501
            time.sleep(0.2)
            later = _health(port) or later
        assert later["tick"]["last_id"] >= first["tick"]["last_id"] + 2
    finally:
        server.send_signal(signal.SIGINT)
        code = server.wait(30)
    log.seek(0)
    output = log.read()
    assert code == 0, output
    assert "stopping the ticker" in output and "stopped" in output
