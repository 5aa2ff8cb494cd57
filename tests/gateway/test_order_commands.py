"""`bezel orders show | dead | redrive`, run through `gateway.cli.main` against a real Redis, with orders placed
and synced by in-process workers over the in-process sandbox: an order is shown without personal data, a
system that gave up is listed, and a redrive syncs that system alone, once, even when run twice or while
workers run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from connectors.config import WorkerConfig
from connectors.models import DownstreamSystem, SyncStatus
from gateway import telemetry
from gateway.cli import main
from gateway.order_commands import redrive
from gateway.worker import GroupWorker
from tests.gateway.test_worker import an_order
from tests.support import Shop, shop_in_process

QUICK = WorkerConfig(retry_backoff_ms=50, retry_backoff_max_ms=100, block_ms=10, max_deliveries=2,
                     claim_idle_ms=1000)
OTHERS = ("wms", "crm", "insurance")
Cli = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url) as shop:
        for system in DownstreamSystem:
            await shop.store.stream.ensure_group(system)
        yield shop


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str) -> Iterator[Cli]:
    """`bezel orders ...` as an operator runs it, configured by REDIS_URL only: (exit code, stdout, stderr)."""
    for name in ("BEZEL_CONFIG", "BEZEL_REDIS__URL", "BEZEL_CHECKOUT__REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("BEZEL_LOG_LEVEL", "CRITICAL")  # the workers' logs stay out of the captured output
    with _root_logging_kept():
        async def run(*argv: str) -> tuple[int, str, str]:
            capsys.readouterr()
            code = await asyncio.to_thread(main, ["orders", *argv])  # main runs its own event loop
            captured = capsys.readouterr()
            return code, captured.out, captured.err

        yield run


@contextlib.contextmanager
def _root_logging_kept() -> Iterator[None]:
    """`main` points the root logger at stdout (the captured one): put the test session's handlers back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def workers(shop: Shop) -> list[GroupWorker]:
    return [GroupWorker(shop.services, shop.store, system, QUICK, consumer=f"test-{system}")
            for system in DownstreamSystem]


async def steps_until(shop: Shop, done: Callable[[], Awaitable[bool]], limit: int = 60) -> None:
    group_workers = workers(shop)
    for _ in range(limit):
        for worker in group_workers:
            await worker.step()
        if await done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the workers did not get there")


async def statuses(shop: Shop, order_id: str) -> dict[str, SyncStatus]:
    return {system: state.status for system, state in (await shop.store.orders.sync_states(order_id)).items()}


async def synced_everywhere(shop: Shop, order_id: str) -> None:
    async def done() -> bool:
        return set((await statuses(shop, order_id)).values()) == {SyncStatus.SYNCED}

    await steps_until(shop, done)


async def erp_gives_up(shop: Shop, *order_ids: str) -> None:
    """With the ERP failing, every other system syncs and the ERP's entries are dead-lettered."""
    shop.fault("erp", status=500)

    async def done() -> bool:
        for order_id in order_ids:
            states = await statuses(shop, order_id)
            if states.pop("erp") is not SyncStatus.FAILED or set(states.values()) != {SyncStatus.SYNCED}:
                return False
        return True

    await steps_until(shop, done)
    shop.sandbox.board.faults.pop("erp", None)  # the ERP recovers


def calls_to_others(shop: Shop) -> dict[str, int]:
    return {system: shop.calls(system) for system in OTHERS}


def redriven_total(system: str) -> float:
    for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
        for sample in family.samples:
            if sample.name == "bezel_orders_redriven_total" and sample.labels.get("system") == system:
                return sample.value
    return 0.0


async def test_show_an_order_synced_everywhere_without_personal_data(shop: Shop, cli: Cli) -> None:
    order_id = await an_order(shop)
    await synced_everywhere(shop, order_id)

    code, out, _ = await cli("show", order_id)
    assert code == 0
    assert f"Order {order_id}  CONFIRMED" in out
    for system in DownstreamSystem:
        assert f"\n{system.value:<10} SYNCED   1 " in out
    assert "no dead letters" in out

    code, out, _ = await cli("show", order_id, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["order"]["id"] == order_id
    assert report["order"]["lines"][0]["quantity"] == 1
    assert report["order"]["total"]["currency"] == "USD"
    assert [(s["system"], s["status"], s["attempts"], s["pending"]) for s in report["downstream"]] == [
        (system.value, "SYNCED", 1, False) for system in DownstreamSystem]
    assert report["dead_letters"] == []
    for personal in ("ada@example.com", "1 Main St", "New York", "token", "tok_visa", "pi_"):
        assert personal not in out


async def test_show_says_where_an_unsynced_order_waits_in_each_group(shop: Shop, cli: Cli) -> None:
    order_id = await an_order(shop)
    shop.fault("erp", status=503, times=1)
    erp = GroupWorker(shop.services, shop.store, DownstreamSystem.ERP, QUICK, consumer="test-erp")
    assert await erp.step() == 1  # the ERP failed once: delivered, not acknowledged, retried after its backoff

    code, out, _ = await cli("show", order_id, "--json")
    assert code == 0
    by_system = {s["system"]: s for s in json.loads(out)["downstream"]}
    assert (by_system["erp"]["status"], by_system["erp"]["attempts"], by_system["erp"]["last_error"]) == (
        "PENDING", 1, "error (HTTP 503)")
    [entry] = by_system["erp"]["entries"]
    assert (entry["delivered"], entry["deliveries"], entry["consumer"]) == (True, 1, "test-erp")
    for system in OTHERS:  # nobody read it yet
        assert by_system[system]["pending"] is True
        assert [e["delivered"] for e in by_system[system]["entries"]] == [False]

    code, out, _ = await cli("show", order_id)
    assert "delivered 1x, unacked" in out
    assert "queued, not read yet" in out


async def test_show_an_unknown_order_exits_1(shop: Shop, cli: Cli) -> None:
    code, out, err = await cli("show", "ord_00000000000000000000")
    assert (code, out) == (1, "")
    assert "no order ord_00000000000000000000" in err


async def test_dead_lists_what_a_system_gave_up_on_newest_first_with_counts(shop: Shop, cli: Cli) -> None:
    first, second = await an_order(shop), await an_order(shop)
    await erp_gives_up(shop, first, second)

    code, out, _ = await cli("dead", "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["count"], doc["by_system"]) == (2, {"erp": 2})
    letters = doc["dead_letters"]
    assert {d["order_id"] for d in letters} == {first, second}
    assert {(d["system"], d["reason"], d["deliveries"]) for d in letters} == {("erp", "error (HTTP 500)", 2)}
    assert [d["id"] for d in letters] == sorted((d["id"] for d in letters), key=_stream_order, reverse=True)
    assert all(d["dead_lettered_at"] for d in letters)

    code, out, _ = await cli("dead")
    assert code == 0
    assert "2 dead letter(s): erp 2" in out
    assert first in out
    assert second in out

    code, out, _ = await cli("dead", "--system", "wms", "--json")
    assert (code, json.loads(out)["count"]) == (0, 0)

    code, out, _ = await cli("show", first, "--json")
    report = json.loads(out)
    assert [d["system"] for d in report["dead_letters"]] == ["erp"]
    assert {s["system"]: s["status"] for s in report["downstream"]}["erp"] == "FAILED"


def _stream_order(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


async def test_redrive_syncs_the_recovered_erp_alone_and_twice_is_harmless(shop: Shop, cli: Cli) -> None:
    telemetry.setup()  # so the counter is collected (as in `bezel worker` and `bezel serve`)
    order_id = await an_order(shop)
    await erp_gives_up(shop, order_id)
    before, redriven_before = calls_to_others(shop), redriven_total("erp")

    code, out, _ = await cli("redrive", "--system", "erp", "--id", order_id)
    assert code == 0
    assert f"erp  {order_id}  redriven: queued as stream entry" in out
    assert "1 redriven" in out
    state = (await shop.store.orders.sync_states(order_id))["erp"]
    assert (state.status, state.attempts, state.last_error) == (SyncStatus.PENDING, 0, "error (HTTP 500)")
    assert await shop.store.stream.dead_letter_count() == 0

    code, out, _ = await cli("redrive", "--system", "erp", "--id", order_id)  # again: nothing left to redrive
    assert code == 0
    assert "nothing to redrive" in out
    assert "0 redriven" in out

    async def erp_synced() -> bool:
        return (await statuses(shop, order_id))["erp"] is SyncStatus.SYNCED

    await steps_until(shop, erp_synced)
    assert (await shop.store.orders.sync_states(order_id))["erp"].attempts == 1
    assert order_id in shop.sandbox.sandbox.received["erp"]
    assert calls_to_others(shop) == before  # WMS, CRM and the insurer were not called again
    for system in DownstreamSystem:  # every group acknowledged the redriven entry (one, not two)
        assert await shop.store.stream.group_lag(system) == (0, 0)
    assert await shop.store.redis.client.xlen(shop.store.stream.name) == 2
    assert redriven_total("erp") - redriven_before == 1

    code, out, _ = await cli("show", order_id, "--json")
    report = json.loads(out)
    assert {s["system"]: s["status"] for s in report["downstream"]} == {s.value: "SYNCED" for s in DownstreamSystem}
    assert report["dead_letters"] == []
    code, out, _ = await cli("dead")
    assert out.strip() == "no dead letters"


async def test_redrive_all_while_workers_run_and_racing_itself_queues_each_order_once(shop: Shop, cli: Cli) -> None:
    first, second = await an_order(shop), await an_order(shop)
    await erp_gives_up(shop, first, second)
    before = calls_to_others(shop)
    stop = asyncio.Event()
    running = asyncio.gather(*(worker.run(stop) for worker in workers(shop)))
    try:
        store = shop.store
        # Two operators at once (the Lua step decides): each order goes back once.
        racing = await asyncio.gather(redrive(store, DownstreamSystem.ERP, None),
                                      redrive(store, DownstreamSystem.ERP, None))
        outcomes = sorted(r.outcome for results in racing for r in results)
        assert outcomes.count("redriven") == 2
        assert {r.order_id for results in racing for r in results if r.outcome == "redriven"} == {first, second}

        code, out, _ = await cli("redrive", "--system", "erp", "--all")  # and once more, from the command
        assert (code, out) == (0, "no dead letters for erp: nothing to redrive\n")

        async def all_synced() -> bool:
            return [(await statuses(shop, o))["erp"] for o in (first, second)] == [SyncStatus.SYNCED] * 2

        for _ in range(200):
            if await all_synced():
                break
            await asyncio.sleep(0.05)
        assert await all_synced()
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    assert sorted(shop.sandbox.sandbox.received["erp"]) == sorted([first, second])
    assert calls_to_others(shop) == before
    redriven = [fields for _, fields in await shop.store.redis.client.xrange(shop.store.stream.name)
                if fields.get(b"system") == b"erp"]
    assert len(redriven) == 2


async def test_redrive_refuses_unclear_requests_and_names_unknown_orders(shop: Shop, cli: Cli) -> None:
    code, _, err = await cli("redrive", "--all")
    assert code == 2
    assert "refusing --all without --system" in err
    code, _, err = await cli("redrive", "--id", "ord_1")
    assert code == 2
    assert "--system is required" in err
    code, _, err = await cli("redrive", "--system", "erp")
    assert code == 2
    assert "--id ORDER_ID" in err
    with pytest.raises(SystemExit):  # argparse: one or the other
        await cli("redrive", "--system", "erp", "--all", "--id", "ord_1")
    code, out, _ = await cli("redrive", "--system", "erp", "--id", "ord_00000000000000000000")
    assert code == 1
    assert "no such order" in out


def test_without_redis_configured_every_command_exits_2(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("BEZEL_CONFIG", "BEZEL_REDIS__URL", "BEZEL_CHECKOUT__REDIS_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    with _root_logging_kept():
        for argv in (["show", "ord_1"], ["dead"], ["redrive", "--system", "erp", "--all"]):
            code = main(["orders", *argv])
            captured = capsys.readouterr()
            assert (code, captured.out) == (2, "")
            assert "set REDIS_URL" in captured.err


async def test_an_unreachable_redis_exits_2_saying_so(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("BEZEL_CHECKOUT__REDIS_TIMEOUT_MS", "500")
    code, out, err = await cli("dead")
    assert (code, out) == (2, "")
    assert "checkout's Redis did not answer" in err
