"""A platform engineer ships the container image: it builds, holds only what `bezel serve` needs, and serves a page.

Built with podman (as root) where Docker Hub is out of reach: the `BASE` is a minimal Debian bookworm made with
debootstrap (python3, python3-venv, ca-certificates), cached between runs in /var/tmp/bezel-image-base (keyed by
the debootstrap parameters) and in podman's image store, as is every build layer. Then the `gateway` target is built
(cgroupfs, chroot isolation, the host's CA bundle as the optional `ca` build secret), inspected, and started as a
container would be: the image mounted (`podman image mount`), its entry point run under `chroot` as the image's
user, with the image's environment, against a sandbox on the host (loopback is shared).

Needs root, podman and debootstrap (`apt-get install -y podman debootstrap`; `make test` installs them as root):
skipped without them, failed with CI=true. Cold (no base, no layers; 2 busy cores) 1.5 to 2.5 minutes: debootstrap
50-75 s, the first gateway build 25-40 s. Warm, 12-25 s (the layers after a changed source are rebuilt). Deselect with
`--deselect tests/deploy/test_image.py`. Every source change leaves ~70 MB of old layers in podman's store:
`podman image prune` frees them, and costs the next run its cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.handle import Sandbox, free_port
from tests.support import PRODUCT_PAGE_QUERY, ROOMY, ROOT, STAGING

CI = os.environ.get("CI") == "true"
CACHE = Path(os.environ.get("BEZEL_IMAGE_CACHE", "/var/tmp/bezel-image-base"))
PODMAN = ["podman", "--cgroup-manager=cgroupfs"]  # the default (systemd) fails here: cgroups in hybrid mode
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
INCLUDE = ("python3", "python3-venv", "ca-certificates")  # what BASE must hold (see the Dockerfile)
# Left out of the base: what apt downloaded and its indexes, documentation but the copyright files, translations
# (what Debian's slim images leave out too). Run inside the new root, so no absolute link leads outside it. Part of
# the cache key: change it, get a new base.
PRUNE = ("rm -rf /var/cache/apt/archives/*.deb /var/cache/apt/*.bin /var/lib/apt/lists/* /usr/share/man/* "
         "/usr/share/info/* /usr/share/locale/* && find /usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete "
         "&& find /usr/share/doc -mindepth 1 -depth -type d -empty -delete")
FIX = "apt-get install -y podman debootstrap"


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "building and mounting the image needs root (debootstrap, podman image mount, chroot)"
    tools = [tool for tool in ("podman", "debootstrap", "chroot", "tar") if shutil.which(tool) is None]
    if tools:
        return f"{' and '.join(tools)} not found: {FIX} (`make test` does, as root)"
    return None


MISSING = _missing()
if MISSING and not CI:
    pytest.skip(MISSING, allow_module_level=True)

pytestmark = pytest.mark.e2e


@dataclass
class Built:
    config: dict[str, Any]  # the image's Config: User, Env, Entrypoint, Cmd, WorkingDir
    healthcheck: dict[str, Any]
    size: int
    root: Path  # the image's filesystem, mounted read-only

    @property
    def env(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.config.get("Env") or [])

    @property
    def user(self) -> tuple[int, int]:
        """The image's USER as uid, gid, resolved as Docker does (names in the image's /etc/passwd and /etc/group;
        no group: the user's, else 0)."""
        def table(name: str) -> list[list[str]]:
            return [line.split(":") for line in (self.root / "etc" / name).read_text().splitlines() if line]

        user, _, group = (self.config.get("User") or "0").partition(":")
        entry = next((f for f in table("passwd") if user in (f[0], f[2])), None)
        uid = int(user) if user.isdigit() else int(entry[2]) if entry else -1
        if group:
            gid = int(group) if group.isdigit() else next(int(f[2]) for f in table("group") if f[0] == group)
        else:
            gid = int(entry[3]) if entry else 0
        assert uid >= 0, f"USER {user} is not in the image's /etc/passwd"
        return uid, gid

    def command(self, argv: list[str], env: dict[str, str] | None = None) -> list[str]:
        """`argv` run inside the image as its user, in its working directory, with its environment (+ `env`):
        what `podman run` would do, without a runtime."""
        uid, gid = self.user
        variables = [f"{k}={v}" for k, v in {**self.env, **(env or {})}.items()]
        return ["chroot", f"--userspec={uid}:{gid}", str(self.root),
                "/usr/bin/env", "-i", "-C", self.config.get("WorkingDir") or "/", *variables, *argv]

    def run(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(argv, env), capture_output=True, text=True, timeout=60, check=False)


def _run(argv: list[str], log: list[str], timeout: float) -> None:
    """Run a setup command, its output kept in `log`; a failure fails the test with the log (all of it in the
    captured output, its end in the message). Past `timeout`: SIGINT, then SIGKILL."""
    log.append(f"$ {' '.join(argv)}")
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        code: int | str = process.returncode
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        code = "timeout"
    log.append(output.rstrip())
    log.append(f"[exit {code} after {time.monotonic() - started:.1f}s]")
    if code != 0:
        print("\n".join(log))
        tail = "\n".join("\n".join(log).splitlines()[-60:])
        pytest.fail(f"{' '.join(argv[:3])} ... failed ({code}); the end of its log:\n{tail}", pytrace=False)


def debian_mirror() -> str:
    """The bookworm mirror apt uses here (BEZEL_DEBIAN_MIRROR overrides), else deb.debian.org."""
    if os.environ.get("BEZEL_DEBIAN_MIRROR"):
        return os.environ["BEZEL_DEBIAN_MIRROR"]
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for stanza in path.read_text().split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and line[0] not in "# ")
            fields = {k.strip().lower(): v.split() for k, v in fields.items()}
            if "deb" in fields.get("types", []) and "bookworm" in fields.get("suites", []) and fields.get("uris"):
                return fields["uris"][0]
    for path in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == "bookworm":
                return words[1]
    return "http://deb.debian.org/debian"


def _remove(work: Path) -> None:
    """Delete debootstrap's work tree, never through a mount: it mounts /proc and /sys in the target while it
    works, and a run killed midway leaves them there."""
    prefix = str(work.resolve()) + "/"
    for _ in range(2):
        with open("/proc/self/mounts") as mounts:
            points = sorted((p for p in (line.split()[1] for line in mounts) if p.startswith(prefix)), reverse=True)
        if not points:
            shutil.rmtree(work, ignore_errors=True)
            return
        for point in points:
            subprocess.run(["umount", "--lazy", point], check=False)
    pytest.fail(f"{work}: could not unmount {points}; remove it by hand", pytrace=False)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def base_image(log: list[str]) -> str:
    """A minbase Debian bookworm with python3 in podman's store: made once per set of parameters (~1 min),
    its tarball kept under CACHE so that even an emptied image store re-imports it in seconds."""
    mirror = debian_mirror()
    params = {"suite": "bookworm", "variant": "minbase", "include": INCLUDE, "mirror": mirror, "prune": PRUNE}
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    name = f"localhost/bezel-base:{key}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with _locked(CACHE / ".lock"):
        if subprocess.run([*PODMAN, "image", "exists", name], check=False).returncode == 0:
            log.append(f"base {name}: in podman's store")
            return name
        tarball = CACHE / f"bookworm-{key}.tar"
        if not tarball.exists():
            work = CACHE / f"work-{key}"
            _remove(work)
            try:
                _run(["debootstrap", "--variant=minbase", f"--include={','.join(INCLUDE)}", "bookworm",
                      str(work / "rootfs"), mirror], log, timeout=600)
                _run(["chroot", str(work / "rootfs"), "/bin/sh", "-c", PRUNE], log, timeout=120)
                _run(["tar", "--numeric-owner", "-C", str(work / "rootfs"), "-cf", str(work / "rootfs.tar"), "."],
                     log, timeout=300)
                (work / "rootfs.tar").rename(tarball)
                (CACHE / f"bookworm-{key}.json").write_text(json.dumps(params, indent=2) + "\n")
            finally:
                _remove(work)
        _run([*PODMAN, "import", str(tarball), name], log, timeout=300)
    return name


def _working_containers() -> set[str]:
    """Every container podman knows of, the build's own (buildah's) included."""
    listed = subprocess.run([*PODMAN, "ps", "--all", "--external", "--format={{.ID}}"], capture_output=True,
                            text=True, check=False)
    return set(listed.stdout.split())


@contextlib.contextmanager
def built(target: str) -> Iterator[Built]:
    """The Dockerfile's `target` on the debootstrap base, inspected and mounted (unmounted on the way out)."""
    if MISSING:
        pytest.fail(f"CI=true: {MISSING}")
    tag = f"localhost/bezel-{target}:test"
    log: list[str] = []
    started = time.monotonic()
    base = base_image(log)
    based = time.monotonic()
    secret = ["--secret", f"id=ca,src={CA_BUNDLE}"] if CA_BUNDLE.is_file() else []
    # A run killed while the image was mounted left it mounted; a build killed midway, its working containers.
    subprocess.run([*PODMAN, "image", "unmount", "--force", tag], capture_output=True, check=False)
    before = _working_containers()
    try:
        _run([*PODMAN, "build", "--isolation=chroot", "--format=docker", "--layers", f"--target={target}",
              f"--build-arg=BASE={base}", *secret, f"--tag={tag}", f"--file={ROOT / 'Dockerfile'}", str(ROOT)],
             log, timeout=900)
    finally:
        if left := _working_containers() - before:
            subprocess.run([*PODMAN, "rm", "--force", *left], capture_output=True, check=False)
    print(f"\n{target}: base {based - started:.1f}s, build {time.monotonic() - based:.1f}s")
    print("\n".join(line for line in log if line.startswith(("$ ", "[exit ", "base "))))
    [inspected] = json.loads(subprocess.run([*PODMAN, "image", "inspect", tag], capture_output=True, text=True,
                                            check=True).stdout)
    root = Path(subprocess.run([*PODMAN, "image", "mount", tag], capture_output=True, text=True,
                               check=True).stdout.strip())
    try:
        yield Built(config=inspected["Config"], healthcheck=inspected.get("Healthcheck") or {},
                    size=inspected["Size"], root=root)
    finally:
        subprocess.run([*PODMAN, "image", "unmount", tag], capture_output=True, check=False)


@contextlib.contextmanager
def started(image: Built, argv: list[str], env: dict[str, str], health: str, log: Path,
            exits: tuple[int, ...] = (0,)) -> Iterator[None]:
    """`argv` running in `image` until `health` answers 200; on the way out SIGTERM (what `docker stop` sends),
    which must end it with one of `exits`. Its output is in the failure's message."""
    with log.open("wb") as out:
        process = subprocess.Popen(image.command(argv, env), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"{argv} exited ({process.returncode}):\n{log.read_text()}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"{health} not up within 60s:\n{log.read_text()}"
            time.sleep(0.1)
        yield
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) in exits, f"{argv} on SIGTERM:\n{log.read_text()}"
    except BaseException:
        sys.stdout.write(log.read_text())
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def image() -> Iterator[Built]:
    with built("gateway") as gateway:
        yield gateway


def test_the_dockerfile_installs_the_uv_the_makefile_pins() -> None:
    """Users build without --build-arg: the Dockerfile's default must be the Makefile's pin."""
    makefile = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    dockerfile = re.search(r"^ARG UV_VERSION=(\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert makefile, "UV_VERSION in the Makefile"
    assert dockerfile, "ARG UV_VERSION=... in the Dockerfile"
    assert dockerfile[1] == makefile[1]


def test_the_image_runs_bezel_serve_in_production_as_an_unprivileged_user(image: Built) -> None:
    uid, gid = image.user
    print(f"gateway image: {image.size / 1e6:.0f} MB, user {image.config.get('User')}, "
          f"{image.config['Entrypoint'] + image.config['Cmd']}")
    assert uid != 0
    assert gid != 0
    assert re.fullmatch(r"\d+:\d+", image.config["User"]), "numeric, so Kubernetes' runAsNonRoot can check it"
    assert (image.config["Entrypoint"] + image.config["Cmd"])[:4] == ["bezel", "serve", "--host", "0.0.0.0"]
    assert image.env["BEZEL_ENV"] == "production"
    assert "/healthz" in " ".join(image.healthcheck.get("Test") or [])
    # The user owns nothing it runs: the code and the config are root's, read-only to it.
    assert (image.root / "app/.venv").stat().st_uid == 0
    assert (image.root / "app/bezel.toml").stat().st_uid == 0


def test_the_image_holds_no_dev_tools_no_uv_no_compiler_and_no_sandbox(image: Built) -> None:
    assert sorted(p.name for p in (image.root / "app").iterdir()) == [".venv", "bezel.toml"]
    site = next((image.root / "app/.venv/lib").glob("python3*/site-packages"))
    installed = {re.sub(r"[-_.]+", "-", p.name.split("-")[0]).lower() for p in site.glob("*.dist-info")}
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    dev_names = {re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", d)[0]).lower() for d in dev}
    assert {"pytest", "ruff", "playwright", "respx"} <= dev_names
    assert not installed & (dev_names | {"pip", "uv", "setuptools"}), "dev tools or installers in the venv"
    assert "bezel" in installed
    assert not any((site / name).exists() for name in ("sandbox", "tests", "bench", "pip", "uv", "_pytest"))
    path = image.env["PATH"].split(":")
    for tool in ("uv", "uvx", "pip", "pip3", "gcc", "cc", "c++", "make", "pytest", "ruff"):
        found = [d for d in path if os.path.lexists(image.root / d.lstrip("/") / tool)]
        assert not found, f"{tool} in the image's {found}"
    assert not (image.root / "opt/uv").exists()
    # Importable by the image's python (the venv's) or the base's: none of them.
    probe = ("import importlib.util as u; print(' '.join(m for m in ('sandbox', 'pip', 'uv', 'pytest', 'ruff') "
             "if u.find_spec(m)))")
    for python, env in (["python", {}], ["python3", {"PATH": "/usr/local/bin:/usr/bin:/bin"}]):
        done = image.run([python, "-c", probe], env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "", f"{python} imports {done.stdout.strip()}"
    done = image.run(["python", "-c", "import sandbox"])
    assert "No module named 'sandbox'" in done.stderr


def test_the_image_runs_the_code_of_this_checkout(image: Built) -> None:
    """The packages installed in the image are this checkout's, file for file (a build cache serving an earlier
    build's wheel would fail here, and did: uv keys a project's built wheel on pyproject.toml alone)."""
    site = next((image.root / "app/.venv/lib").glob("python3*/site-packages"))
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]

    def files(top: Path, package: str) -> set[Path]:
        return {p.relative_to(top) for p in (top / package).rglob("*") if p.is_file() and "__pycache__" not in p.parts}

    differ = []
    for package in wheel["packages"]:
        ours, theirs = files(ROOT, package), files(site, package)
        differ += sorted(str(p) for p in ours ^ theirs)
        differ += sorted(str(p) for p in ours & theirs if (ROOT / p).read_bytes() != (site / p).read_bytes())
    assert not differ, f"the image's code is not this checkout's: {differ[:20]}"


def test_the_image_serves_the_readme_product_page_from_the_sandbox(image: Built, sandbox: Sandbox,
                                                                   tmp_path: Path) -> None:
    """The entry point as the image runs it (`bezel serve --host 0.0.0.0`, production), on a free port; on
    the sandbox, as staging (production refuses it otherwise)."""
    port = free_port()
    env = {**ROOMY, **STAGING, "BEZEL_SANDBOX__URL": sandbox.url, "BEZEL_GATEWAY__PORT": str(port),
           "BEZEL_ADMIN__PORT": "0"}
    url = f"http://127.0.0.1:{port}"
    with started(image, image.config["Entrypoint"] + image.config["Cmd"], env, f"{url}/healthz",
                 tmp_path / "gateway.log"):
        page = httpx.post(f"{url}/graphql", json={"query": PRODUCT_PAGE_QUERY}, timeout=30)
        assert page.status_code == 200, page.text
        result = page.json()
        assert "errors" not in result, result["errors"]
        assert result["data"]["product"]["title"] == "Aurelia Solitaire Engagement Ring"
        assert len(result["data"]["product"]["variants"]) == 4 * 4 * 11
        # Production: no introspection.
        schema = httpx.post(f"{url}/graphql", json={"query": "{ __schema { queryType { name } } }"}, timeout=10)
        assert "errors" in schema.json()
        # The image's HEALTHCHECK, run in the image as Docker would: healthy.
        kind, *check = image.healthcheck["Test"]
        assert kind == "CMD"
        healthy = image.run(check, env)
        assert healthy.returncode == 0, healthy.stderr


def test_the_sandbox_image_that_compose_runs_serves_the_vendors(tmp_path: Path) -> None:
    """The `sandbox` target (compose's fake vendors) from the same base: its entry point, on a free port."""
    with built("sandbox") as box:
        assert box.user[0] != 0
        assert box.config["Entrypoint"] == ["python", "-m", "sandbox"]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        # uvicorn run by the sandbox re-raises SIGTERM once it has shut down: killed by it, after a clean stop.
        with started(box, [*box.config["Entrypoint"], "--host", "127.0.0.1", "--port", str(port)], {},
                     f"{url}/healthz", tmp_path / "sandbox.log", exits=(0, -signal.SIGTERM)):
            products = httpx.get(f"{url}/catalog/admin/api/2024-10/products.json",
                                 params={"handle": "aurelia-solitaire-ring"}, timeout=10)
            assert products.json()["products"][0]["title"] == "Aurelia Solitaire Engagement Ring"
