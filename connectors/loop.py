"""How late this process's event loop runs: the one signal that a process has more work than CPU.

A vendor's latency says nothing about our own load, and requests in flight mostly wait on vendors; but
a callback asked for in 20 ms that runs 60 ms later means every request here is waiting for the CPU.
The gateway's adaptive in-flight limit (`gateway.edge.overload`) sheds load on it, and the call policy
sends no hedge while the loop is late (a hedge then adds work without getting an answer sooner).
"""

from __future__ import annotations

import asyncio

PROBE_S = 0.02  # how often the loop is probed while there is traffic
DECAY = 0.7  # per probe: a 100 ms stall fades below 20 ms in ~5 probes (~100 ms)
IDLE_S = 1.0  # no traffic for this long: the probe stops until the next request (`touch`)
MEAN_S = 0.25  # the time constant of `mean_s`: one 100 ms stall (a big page, a GC) does not make it


class LoopLag:
    """The loop's lateness, in seconds (0 until `start`), two ways: `lag_s` is the latest probe or a
    decaying memory of a worse one (quick: whether to hedge right now), `mean_s` an average over the
    last quarter second or so, weighted by time (steady: whether the process is short of CPU, which
    a single slow callback does not say)."""

    def __init__(self) -> None:
        self.lag_s = 0.0
        self.mean_s = 0.0
        self.target_s = 0.0  # later than this is late (`[gateway] loop_lag_target_ms`); 0: not watched
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._used = 0.0

    def start(self, *, target_s: float) -> None:
        """Watch the running loop from now on, probing it while requests come (`touch`)."""
        self.stop()
        self.target_s = target_s
        self._loop = asyncio.get_running_loop()
        self.touch()

    def touch(self) -> None:
        """A request came: probe while they do. An idle process is not woken 50 times a second for
        nothing (measured: that alone was ~5 ms of CPU a second, a third of a page per second at rest)."""
        if self._loop is None:
            return
        self._used = self._loop.time()
        if self._handle is None:
            self._schedule(self._loop)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._loop = None
        self.lag_s = self.mean_s = 0.0
        self.target_s = 0.0

    @property
    def late(self) -> bool:
        """The loop runs later than its target: every request here is waiting for the CPU."""
        return bool(self.target_s) and self.lag_s > self.target_s

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        self._handle = loop.call_at(now + PROBE_S, self._probe, loop, now, now + PROBE_S)

    def _probe(self, loop: asyncio.AbstractEventLoop, scheduled: float, expected: float) -> None:
        now = loop.time()
        late = max(0.0, now - expected)
        self.lag_s = max(late, self.lag_s * DECAY)
        weight = min(1.0, (now - scheduled) / MEAN_S)
        self.mean_s += weight * (late - self.mean_s)
        if now - self._used > IDLE_S:  # quiet: on time by definition, and nothing to shed or hedge
            self._handle = None
            self.lag_s = self.mean_s = 0.0
            return
        self._schedule(loop)

