"""`bezel serve`: a supervisor and N gateway workers sharing its listening sockets; reload without a drop.

The supervisor binds the public port (and the admin port) once and starts N workers, each its own
`bezel serve` process and event loop, serving those same sockets (the kernel hands each connection
to one of them). It serves nothing itself.

- A worker that exits unexpectedly is replaced; one that keeps dying young is restarted after a
  growing pause (up to 10 s), never given up on.
- SIGTERM / SIGINT: every worker stops accepting, finishes its in-flight requests (up to the longest
  budget, checkout's, plus a margin) and exits; then the supervisor does. A second signal: at once.
- SIGHUP (or `bezel reload`): the configuration is read again. An invalid one is refused, its error
  logged, the running workers kept. A valid one is applied by replacing the workers one at a time:
  each new worker is serving before its predecessor is told to drain, so no request is dropped and no
  connection refused. Every key takes effect this way except the sockets' (`[gateway] host`/`port`,
  `[admin] host`/`port`), which the supervisor holds: those need a restart (said in the log).
  `[gateway] workers` changes the number of workers.

With more than one worker, each has its own metrics: a scrape of the admin port's `/metrics` reaches
one of them. Push metrics over OTLP (each process is its own `service.instance.id`), or run one worker
per container (Kubernetes scales pods).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gateway.errors import ConfigError
from gateway.settings import Settings

log = logging.getLogger("bezel.supervisor")
READY_TIMEOUT_S = 60.0  # a worker that is not serving by then is a failed start
YOUNG_S = 10.0  # a worker dying younger than this counts toward a crash loop
MAX_PAUSE_S = 10.0


def worker_count(configured: int) -> int:
    """`[gateway] workers`: 0 is one per core this process may use: the cores it may run on, or fewer
    if its cgroup (a container's `--cpus`, a pod's CPU limit) allows less CPU time than that."""
    if configured:
        return configured
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()  # noqa: SIM115
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, math.ceil(int(quota) / int(period))))


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    ready_fd: int  # the read end of the pipe the worker writes to once it serves
    started: float = field(default_factory=time.monotonic)
    ready: bool = False
    retiring: bool = False  # told to drain: its exit is expected


@dataclass
class Supervisor:
    """`command(ready_fd)`: the argv of one worker, told to write to `ready_fd` once it serves."""

    command: Callable[[int], list[str]]
    sockets: Sequence[socket.socket]
    count: int
    reload_settings: Callable[[], Settings]
    bound: tuple[str, int, str, int]  # (host, port, admin host, admin port) the sockets were made for
    workers: list[Worker] = field(default_factory=list)
    _stopping: int = 0
    _reloading: bool = False
    _crashes: int = 0
    _selector: selectors.DefaultSelector = field(default_factory=selectors.DefaultSelector)

    def run(self) -> int:
        for sig, handler in ((signal.SIGTERM, self._stop), (signal.SIGINT, self._stop), (signal.SIGHUP, self._reload)):
            signal.signal(sig, handler)
        first = [self._spawn() for _ in range(self.count)]
        for worker in first:  # a worker that cannot start at all (a bad manifest, say) stops `bezel serve`
            if not self._wait_ready(worker) and not self._stopping:
                code = worker.process.poll()
                log.error("a worker could not start (exit code %s); stopping", code)
                self._stopping = 1
                self._drain()
                return code if code else 1
        log.info("serving with %d worker(s)", self.count)
        while not self._stopping:
            self._tick(0.2)
            if self._reloading:
                self._reloading = False
                self._apply_reload()
        return self._drain()

    # ------------------------------------------------------------------ signals

    def _stop(self, signum: int, frame: object) -> None:
        self._stopping += 1
        if self._stopping > 1:  # a second Ctrl-C / SIGTERM: stop waiting for in-flight requests
            for worker in self.workers:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()

    def _reload(self, signum: int, frame: object) -> None:
        self._reloading = True

    # ------------------------------------------------------------------ workers

    def _spawn(self) -> Worker:
        read_fd, write_fd = os.pipe()
        fds = (*(s.fileno() for s in self.sockets), write_fd)
        process = subprocess.Popen(self.command(write_fd), pass_fds=fds)
        os.close(write_fd)
        worker = Worker(process=process, ready_fd=read_fd)
        self.workers.append(worker)
        self._selector.register(read_fd, selectors.EVENT_READ, worker)
        return worker

    def _note_ready(self, timeout: float) -> None:
        for key, _ in self._selector.select(timeout):
            worker: Worker = key.data
            try:
                said = os.read(worker.ready_fd, 16)
            except OSError:
                said = b""
            worker.ready = bool(said)  # an empty read is the pipe closing: the worker died before serving
            self._forget_pipe(worker)

    def _tick(self, timeout: float) -> None:
        """Note workers that became ready; replace those that died unexpectedly."""
        self._note_ready(timeout)
        for worker in list(self.workers):
            code = worker.process.poll()
            if code is None:
                continue
            self.workers.remove(worker)
            self._forget_pipe(worker)
            if worker.retiring or self._stopping:
                continue
            young = time.monotonic() - worker.started < YOUNG_S
            self._crashes = self._crashes + 1 if young else 0
            pause = min(MAX_PAUSE_S, 0.5 * 2 ** (self._crashes - 1)) if self._crashes > 1 else 0.0
            log.error("worker %d exited (code %s); starting another%s", worker.process.pid, code,
                      f" in {pause:.1f} s" if pause else "")
            self._sleep(pause)
            if not self._stopping:
                self._spawn()

    def _forget_pipe(self, worker: Worker) -> None:
        """Once: the fd's number is soon another pipe's, which a second close would close."""
        if worker.ready_fd < 0:
            return
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(worker.ready_fd)
        with contextlib.suppress(OSError):
            os.close(worker.ready_fd)
        worker.ready_fd = -1

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping:
            time.sleep(min(0.1, deadline - time.monotonic()))

    def _wait_ready(self, worker: Worker) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not worker.ready and time.monotonic() < deadline and not self._stopping:
            if worker.process.poll() is not None:
                return False
            self._note_ready(0.1)
        return worker.ready

    def _retire(self, worker: Worker) -> None:
        worker.retiring = True
        with contextlib.suppress(ProcessLookupError):
            worker.process.send_signal(signal.SIGTERM)

    # ------------------------------------------------------------------ reload and stop

    def _apply_reload(self) -> None:
        try:
            settings = self.reload_settings()
        except ConfigError as exc:
            log.error("reload refused, the running configuration is kept: %s", exc)
            return
        except Exception:  # a reload must never take the supervisor down
            log.exception("reload refused, the running configuration is kept")
            return
        g, a = settings.gateway, settings.admin
        if (g.host, g.port, a.host, a.port) != self.bound:
            log.warning("reload: [gateway] host/port and [admin] host/port take effect only on a restart")
        current = [w for w in self.workers if not w.retiring]
        wanted = worker_count(g.workers)
        log.info("reloading: replacing %d worker(s) one at a time", len(current))
        for old in current:
            new = self._spawn()
            if not self._wait_ready(new):
                log.error("reload stopped: a new worker did not start (its log says why); the others are kept")
                if new.process.poll() is None:
                    self._retire(new)
                return
            self._retire(old)
        for _ in range(wanted - len(current)):
            self._spawn()
        for extra in [w for w in self.workers if not w.retiring][wanted:]:
            self._retire(extra)
        self.count = wanted
        log.info("reloaded: %d worker(s) on the new configuration", wanted)

    def _drain(self) -> int:
        log.info("stopping: %d worker(s) finish their requests", len(self.workers))
        for worker in self.workers:
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=120)
        for sock in self.sockets:
            sock.close()
        return 0


def find_supervisors() -> list[int]:
    """The `bezel serve` supervisors running here (PID 1 in a container), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            argv = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")  # noqa: SIM115
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        runs_serve = "serve" in words and any(w.endswith(("bezel", "gateway.cli")) for w in words)
        if runs_serve and "--as-worker" not in words:
            found.append(int(entry))
    return found


def notify_ready(fd: int) -> None:
    """In a worker: tell the supervisor this process is serving."""
    with contextlib.suppress(OSError):
        os.write(fd, b"1")
        os.close(fd)


def worker_command(config: str | None, fds: Sequence[int], admin: bool) -> Callable[[int], list[str]]:
    def command(ready_fd: int) -> list[str]:
        argv = [sys.executable, "-m", "gateway.cli", "serve", "--as-worker", ",".join(map(str, fds)),
                "--ready-fd", str(ready_fd)]
        if config:
            argv += ["--config", config]
        if not admin:
            argv += ["--admin-port", "0"]
        return argv

    return command
