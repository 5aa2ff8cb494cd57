"""`bezel dev` runs sandbox and gateway together and stops cleanly on Ctrl-C; config errors exit 2."""

from __future__ import annotations

import os
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
        webhooks = httpx.get(f"http://127.0.0.1:{sandbox_port}/_admin/webhooks").json()
        assert webhooks["to"] == f"http://127.0.0.1:{port}"  # the sandbox delivers to this gateway
        assert all(webhooks["secrets"].values())  # fresh ones, shared with the gateway
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)
    assert process.returncode == 0, output.decode()
    assert b"Traceback" not in output
    assert b"Application shutdown complete" in output
    assert b"webhooks wired" in output


def test_bezel_sandbox_passes_every_flag_to_the_sandbox() -> None:
    """`bezel sandbox --help` and `bezel sandbox --port N ...` are the sandbox's own (they once were
    "unrecognized arguments"); another command still refuses a flag it does not know."""
    bezel = [sys.executable, "-m", "gateway.cli"]
    for asked in ("--help", "-h"):
        help_text = subprocess.run([*bezel, "sandbox", asked], capture_output=True, text=True, timeout=30)
        assert help_text.returncode == 0, help_text.stderr
        assert help_text.stdout.startswith("usage: sandbox")
        for flag in ("--host", "--port", "--latency-scale", "--seed", "--webhooks-to", "--erp-sync-delay-ms"):
            assert flag in help_text.stdout
    refused = subprocess.run([*bezel, "config", "--port", "1"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2
    assert "unrecognized arguments: --port 1" in refused.stderr
    port = free_port()
    process = subprocess.Popen([*bezel, "sandbox", "--host", "127.0.0.1", "--port", str(port), "--latency-scale", "0",
                                "--seed", "7", "--webhooks-to", "http://127.0.0.1:9", "--erp-sync-delay-ms", "250"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        webhooks = httpx.get(f"http://127.0.0.1:{port}/_admin/webhooks").json()
        assert (webhooks["to"], webhooks["erp_sync_delay_ms"]) == ("http://127.0.0.1:9", 250)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)
    assert b"Traceback" not in output


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


def _clean_environment(**env: str) -> dict[str, str]:
    """The runner's environment without its BEZEL_* and REDIS_URL, plus `env`."""
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith("BEZEL_") and k != "REDIS_URL"}
    return {**clean, **env}


def test_bezel_serve_refuses_production_on_development_settings() -> None:
    """BEZEL_ENV=production and nothing else: exit 2 naming every unsafe key, before any socket is bound."""
    import os

    # Its own session: if it did start, its workers are stopped with it rather than left serving.
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(free_port()),
                                "--admin-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=_clean_environment(BEZEL_ENV="production"), start_new_session=True)
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 2
    for key in ("documents.require_trusted", "documents.apq", "storefront.enabled", "vendors.payments.url"):
        assert key in stderr, key
    assert "Traceback" not in stderr


def test_bezel_worker_in_production_logs_each_override_at_start(redis_url: str) -> None:
    """A staging worker against the sandbox: it starts, and says at once which refusal it was let past."""
    import json

    port = free_port()
    env = _clean_environment(BEZEL_ENV="production", REDIS_URL=redis_url, BEZEL_INSECURE__ALLOW_VENDORS="true",
                             BEZEL_INSECURE__ALLOW_DOCUMENTS="true", BEZEL_STOREFRONT__ENABLED="false",
                             OTEL_SDK_DISABLED="true")
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker", "--metrics-port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    lines = [json.loads(line) for line in output.decode().splitlines() if line.startswith("{")]
    warned = [line["message"] for line in lines if line["level"] == "WARNING"]
    assert [m for m in warned if "insecure.allow_vendors" in m], output.decode()
    assert [m for m in warned if "insecure.allow_documents" in m], output.decode()
    assert not [m for m in warned if "insecure.allow_storefront" in m]


def test_bezel_dev_serves_metrics_and_readiness_on_the_admin_port_as_serve_does(tmp_path: Path) -> None:
    """Where the config says (`[admin] port`, or --admin-port): what Prometheus scrapes in production is where it
    looks in development too. A taken admin port does not stop a second `bezel dev`: it says so, and serves them
    on its gateway port (as outside production it always does)."""
    admin = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BEZEL_", "REDIS_URL"))}

    def dev(name: str) -> tuple[int, subprocess.Popen[bytes]]:
        port = free_port()
        args = [sys.executable, "-m", "gateway.cli", "dev", "--port", str(port), "--admin-port", str(admin),
                "--sandbox-port", str(free_port()), "--redis-port", str(free_port()), "--data-dir",
                str(tmp_path / name), "--latency-scale", "0.1"]
        return port, subprocess.Popen(args, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    first_port, first = dev("first")
    second = None
    try:
        wait_for(f"http://127.0.0.1:{admin}/readyz", timeout=30)
        metrics = httpx.get(f"http://127.0.0.1:{admin}/metrics", timeout=10)
        assert metrics.status_code == 200
        assert "bezel_breaker_state" in metrics.text
        assert httpx.get(f"http://127.0.0.1:{first_port}/metrics", timeout=10).status_code == 200  # not production
        second_port, second = dev("second")
        wait_for(f"http://127.0.0.1:{second_port}/healthz", timeout=30)
        assert "bezel_breaker_state" in httpx.get(f"http://127.0.0.1:{second_port}/metrics", timeout=10).text
    finally:
        outputs = []
        for process in (first, second):
            if process is not None:
                process.send_signal(signal.SIGINT)
                outputs.append(process.communicate(timeout=15)[0].decode())
    assert f"admin (metrics, readiness) on http://127.0.0.1:{admin}" in outputs[0]
    assert f"admin port 127.0.0.1:{admin} not available" in outputs[1]
    assert all("Traceback" not in output for output in outputs)
    assert (first.returncode, second.returncode) == (0, 0)
