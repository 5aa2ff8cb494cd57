"""GraphiQL really renders in a browser that can reach nothing but Bezel (skipped without Chromium)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.handle import free_port, wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_graphiql_renders_its_editor_offline(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    bezel = subprocess.Popen([sys.executable, "-m", "gateway.cli", "dev", "--port", str(port), "--sandbox-port",
                              str(sandbox_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        # --host-resolver-rules makes every other host unreachable: a CDN reference would fail to load.
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path}", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
             "--virtual-time-budget=10000", "--dump-dom", f"http://127.0.0.1:{port}/graphql"],
            capture_output=True, text=True, timeout=60,
        ).stdout
    finally:
        bezel.send_signal(signal.SIGINT)
        bezel.wait(timeout=15)
    assert 'class="graphiql-container"' in dom
    assert "graphiql-execute-button" in dom
    assert "aurelia-solitaire-ring" in dom  # the editor holds the README's query
