"""Counts a gateway's Redis commands and round trips from inside its process, for bench.redis_tier.

Put on the gateway's PYTHONPATH only by that benchmark (`BEZEL_BENCH_REDIS_COUNTS` names a directory):
redis-py's asyncio connection packs every command through `pack_command` (pipelines too, one call per
command) and writes each round trip with one `send_packed_command`, so counting those two counts what
this process asked of Redis, whatever other processes ask of the same server (INFO commandstats is
server-wide; the machine is shared). Each process writes its counts to `<dir>/<pid>.json` every 0.2 s.
`BEZEL_BENCH_NO_HIREDIS=1` hides `hiredis` from redis-py, to compare its parser with the pure-Python one.
"""

from __future__ import annotations

import os

_DIR = os.environ.get("BEZEL_BENCH_REDIS_COUNTS")
if os.environ.get("BEZEL_BENCH_NO_HIREDIS"):  # redis-py's pure-Python reply parser, as without `hiredis`
    import sys

    sys.modules["hiredis"] = None  # type: ignore[assignment]


def _install(directory: str) -> None:
    import collections
    import json
    import threading
    import time

    from redis.asyncio.connection import AbstractConnection

    counts: collections.Counter[str] = collections.Counter()
    pack, send = AbstractConnection.pack_command, AbstractConnection.send_packed_command

    def pack_command(self, *args):  # type: ignore[no-untyped-def]
        name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
        counts[f"cmd:{name.split()[0].upper()}"] += 1
        at = 3 if name.upper().startswith("EVAL") else 1  # EVALSHA sha numkeys key ...
        if len(args) > at and os.environ.get("BEZEL_BENCH_REDIS_KEYS"):  # which kind of key (3 parts of it)
            key = args[at].decode(errors="replace") if isinstance(args[at], bytes) else str(args[at])
            counts[f"key:{name.split()[0].upper()} {':'.join(key.split(':')[:3])}"] += 1
        counts["commands"] += 1
        return pack(self, *args)

    async def send_packed_command(self, command, check_health=True):  # type: ignore[no-untyped-def]
        counts["round_trips"] += 1
        return await send(self, command, check_health)

    AbstractConnection.pack_command = pack_command  # type: ignore[method-assign]
    AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]
    path = os.path.join(directory, f"{os.getpid()}.json")

    def dump() -> None:
        while True:
            time.sleep(0.2)
            tmp = path + ".tmp"
            with open(tmp, "w") as out:
                json.dump(dict(counts), out)
            os.replace(tmp, path)

    threading.Thread(target=dump, daemon=True, name="redis-counts").start()


if _DIR:
    _install(_DIR)
