"""How late this process's event loop runs: the one signal that a process has more work than CPU.

A vendor's latency says nothing about our own load, and requests in flight mostly wait on vendors; but
a callback asked for in 20 ms that runs 60 ms later means every request here is waiting for the CPU.
The gateway's adaptive in-flight limit (`gateway.edge.overload`) sheds load on it, and the call policy
sends no hedge while the loop is late (a hedge then adds work without getting an answer sooner).
"""

from __future__ import annotations

import asyncio

PROBE_S = 0.02  # how often the loop is probed; ~50 wakeups a second cost a few microseconds each
DECAY = 0.7  # per probe: a 100 ms stall fades below 20 ms in ~5 probes (~100 ms)


class LoopLag:
    """The loop's recent lateness, in seconds (0 until `start`): the latest probe, or a decaying
    memory of a worse one."""

    def __init__(self) -> None:
        self.lag_s = 0.0
        self.target_s = 0.0  # later than this is late (`[gateway] loop_lag_target_ms`); 0: not watched
        self._handle: asyncio.TimerHandle | None = None

    def start(self, *, target_s: float) -> None:
        """Probe the running loop from now on."""
        self.stop()
        self.target_s = target_s
        self._schedule(asyncio.get_running_loop())

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.lag_s = 0.0
        self.target_s = 0.0

    @property
    def late(self) -> bool:
        """The loop runs later than its target: every request here is waiting for the CPU."""
        return bool(self.target_s) and self.lag_s > self.target_s

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._handle = loop.call_at(loop.time() + PROBE_S, self._probe, loop, loop.time() + PROBE_S)

    def _probe(self, loop: asyncio.AbstractEventLoop, expected: float) -> None:
        late = max(0.0, loop.time() - expected)
        self.lag_s = max(late, self.lag_s * DECAY)
        self._schedule(loop)


LOOP_LAG = LoopLag()  # one event loop per process: one monitor
