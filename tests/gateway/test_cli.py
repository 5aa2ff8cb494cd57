"""`bezel dev` runs sandbox and gateway together and stops cleanly on Ctrl-C; config errors exit 2."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from sandbox.handle import free_port, wait_for


def test_bezel_dev_serves_a_product_page_and_stops_on_ctrl_c() -> None:
    port, sandbox_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "dev", "--port", str(port), "--sandbox-port", str(sandbox_port),
         "--latency-scale", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        response = httpx.post(f"http://127.0.0.1:{port}/graphql",
                              json={"query": '{ product(handle: "gold-huggie-hoops") { title variants { '
                                             "availability { status } } } }"}, timeout=10)
        assert response.json()["data"]["product"]["title"] == "Gold Huggie Hoops"
        assert httpx.get(f"http://127.0.0.1:{sandbox_port}/_admin/calls").json()["inventory"] == 1
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)
    assert process.returncode == 0, output.decode()
    assert b"Traceback" not in output
    assert b"Application shutdown complete" in output


def test_a_bad_config_exits_2_with_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "bezel.toml"
    config.write_text("[vendors.tax]\ntimeout_ms = -1\n")
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "vendors.tax.timeout_ms" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_console_script_is_installed() -> None:
    bezel = Path(sys.executable).parent / "bezel"
    result = subprocess.run([str(bezel), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert all(command in result.stdout for command in ("dev", "serve", "sandbox"))


def test_bezel_config_prints_the_effective_values_without_secrets(tmp_path: Path) -> None:
    import json
    import os

    config = tmp_path / "bezel.toml"
    config.write_text("[vendors.tax]\ntimeout_ms = 250\n")
    env = {**os.environ, "BEZEL_VENDORS__TAX__CACHE_TTL_S": "5", "REDIS_URL": "redis://:hunter2@cache.internal:6380/2"}
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "config", "--config", str(config)],
                            capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["vendors"]["tax"]["timeout_ms"] == 250
    assert doc["vendors"]["tax"]["cache_ttl_s"] == 5
    assert doc["vendors"]["tax"]["revalidate_s"] == 600
    assert doc["redis"]["url"] == "redis://:***@cache.internal:6380/2"
    assert "hunter2" not in result.stdout
