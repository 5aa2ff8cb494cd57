"""`bezel orders`: what an operator needs when an order's downstream sync is stuck.

    bezel orders show ORDER_ID [--json]                          the order, each system's sync, its queue, dead letters
    bezel orders dead [--system SYSTEM] [--json]                 dead-lettered syncs, newest first, a count per system
    bezel orders redrive --system SYSTEM (--id ID... | --all)    put them back on the order stream for that system

Personal data stays out of terminals: an order is shown without its email, address, engraving text,
payment details or token. A redrive is one atomic step per order (`connectors.checkout.lua.REDRIVE`), safe
to run twice and while workers run. Exit codes: 0 done, 1 no such order, 2 the command could not run (no
Redis configured or reachable, or flags that do not go together).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider

from connectors.checkout import CheckoutStore, DeadLetter, OrderQueue, QueuedEntry, Redriven
from connectors.checkout.order_records import ALREADY_SYNCED, NO_ORDER, NOT_DEAD, REDRIVEN
from connectors.errors import CheckoutUnavailable
from connectors.models import DownstreamState, DownstreamSystem, Order
from connectors.telemetry import meter
from gateway import telemetry
from gateway.services import open_store
from gateway.settings import OtelEnvironment, Settings

REDRIVES = meter.create_counter(
    "bezel.orders.redriven",
    description="Dead-lettered order syncs put back on the order stream by `bezel orders redrive`, by system.")
SYSTEMS = [system.value for system in DownstreamSystem]
NOT_SHOWN = "email, address, engraving text, payment details and the order token are never shown"
Command = Callable[[CheckoutStore, argparse.Namespace], Awaitable[int]]


def add_arguments(parser: argparse.ArgumentParser, config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """`bezel orders show | dead | redrive`, each with `--config` and `--json`."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="an order (no personal data) and where each downstream system is with it",
                              description=f"An order (id, created, status, lines, total; {NOT_SHOWN}), each "
                                          "downstream system's sync state, whether the order is pending in each "
                                          "consumer group, and its dead letters. Exit 1 if there is no such order.")
    show.add_argument("order_id", metavar="ORDER_ID")
    dead = actions.add_parser("dead", help="dead-lettered syncs, newest first, with a count per system")
    dead.add_argument("--system", choices=SYSTEMS, help="only this system's")
    redrive = actions.add_parser(
        "redrive", help="put one system's dead-lettered syncs back on the order stream",
        description="Re-queue dead-lettered syncs for one system: each order gets a new stream entry for that "
                    "system only (the others are not called again), its sync state becomes PENDING with attempts "
                    "reset to 0, and its dead letter is deleted, in one atomic step. Safe to run twice and while "
                    "workers run.")
    redrive.add_argument("--system", choices=SYSTEMS, help="the system to sync again (required: one at a time)")
    which = redrive.add_mutually_exclusive_group()
    which.add_argument("--id", dest="order_ids", action="extend", nargs="+", metavar="ORDER_ID",
                       help="these orders' dead letters for --system")
    which.add_argument("--all", action="store_true", help="every dead letter of --system")
    for command in (show, dead, redrive):
        config_arg(command)
        command.add_argument("--json", action="store_true", help="one JSON document on stdout, for scripts")


def run(args: argparse.Namespace, settings: Settings) -> int:
    name = f"bezel orders {args.action}"
    if not settings.checkout_redis_url:
        return _refuse(name, "orders live in checkout's Redis; set REDIS_URL (or [redis] url, [checkout] redis_url)")
    problem = _redrive_usage(args) if args.action == "redrive" else None
    if problem:
        return _refuse(name, problem)
    command: Command = {"show": _show, "dead": _dead, "redrive": _redrive}[args.action]
    try:
        with _metrics_pushed():
            return asyncio.run(_with_store(settings, command, args))
    except CheckoutUnavailable as exc:
        return _refuse(name, f"checkout's Redis did not answer ({exc.detail})")


def _refuse(name: str, message: str) -> int:
    print(f"{name}: {message}", file=sys.stderr)
    return 2


def _redrive_usage(args: argparse.Namespace) -> str | None:
    if not args.system:
        if args.all:
            return "refusing --all without --system: redrive one system at a time (`bezel orders dead` lists them)"
        return "--system is required: redrive one system at a time"
    if not args.all and not args.order_ids:
        return "name the orders with --id ORDER_ID, or redrive every dead letter of the system with --all"
    return None


async def _with_store(settings: Settings, command: Command, args: argparse.Namespace) -> int:
    store = open_store(settings)
    assert store is not None  # checked by `run`
    try:
        return await command(store, args)
    finally:
        await store.aclose()


@contextlib.contextmanager
def _metrics_pushed() -> Iterator[None]:
    """A one-shot command is never scraped: its counters reach a collector only over OTLP. With an endpoint set
    (and no SDK installed already), install one and flush it on the way out."""
    if "otlp" not in OtelEnvironment.read().metrics_to or isinstance(metrics.get_meter_provider(), MeterProvider):
        yield
        return
    installed = telemetry.setup("bezel-orders")
    try:
        yield
    finally:
        installed.shutdown()


# --- show -------------------------------------------------------------------------------------------------------

async def order_report(store: CheckoutStore, order_id: str) -> dict[str, Any] | None:
    """The order without personal data, each system's sync and queue, and its dead letters; None if no order."""
    found = await store.orders.get(order_id)
    if found is None:
        return None
    order, _ = found
    states = await store.orders.sync_states(order_id)
    queue = await store.stream.queued(order_id, order.downstream_systems)
    letters = await store.stream.dead_letters(order_ids={order_id})
    return {"order": _order_doc(order),
            "downstream": [_system_doc(system, states.get(system), queue) for system in order.downstream_systems],
            "queue_complete": queue.complete,
            "dead_letters": [_dead_doc(letter) for letter in letters]}


async def _show(store: CheckoutStore, args: argparse.Namespace) -> int:
    report = await order_report(store, args.order_id)
    if report is None:
        print(f"bezel orders show: no order {args.order_id}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else render_order(report))
    return 0


def _order_doc(order: Order) -> dict[str, Any]:
    lines = [{"sku": line.sku, "title": line.title, "quantity": line.quantity, "unit_price": line.unit_price.as_json(),
              "total": line.total.as_json(), "engraved": bool(line.engraving_text)} for line in order.lines]
    return {"id": order.id, "status": order.status.value, "created_at": _when(order.created_at), "lines": lines,
            "subtotal": order.subtotal.as_json(), "tax": order.tax.as_json(),
            "insurance": order.insurance.as_json() if order.insurance else None, "total": order.total.as_json()}


def _system_doc(system: DownstreamSystem, state: DownstreamState | None, queue: OrderQueue) -> dict[str, Any]:
    entries = queue.entries.get(system, [])
    return {"system": system.value, "status": state.status.value if state else None,
            "attempts": state.attempts if state else None, "last_error": state.last_error if state else None,
            "updated_at": _when(state.updated_at) if state else None,
            "group_exists": system.value not in queue.missing_groups, "pending": bool(entries),
            "entries": [_queued_doc(entry) for entry in entries]}


def _queued_doc(entry: QueuedEntry) -> dict[str, Any]:
    return {"entry_id": entry.id, "delivered": entry.delivered, "deliveries": entry.deliveries,
            "idle_ms": entry.idle_ms, "consumer": entry.consumer}


def render_order(report: dict[str, Any]) -> str:
    order = report["order"]
    out = [f"Order {order['id']}  {order['status']}  created {order['created_at']}", f"  ({NOT_SHOWN})"]
    for line in order["lines"]:
        engraved = "  engraved" if line["engraved"] else ""
        out.append(f"  {line['quantity']} x {line['title']} ({line['sku']})  {_amount(line['unit_price'])} each  "
                   f"{_amount(line['total'])}{engraved}")
    insurance = _amount(order["insurance"]) if order["insurance"] else "none"
    out.append(f"  subtotal {_amount(order['subtotal'])}  tax {_amount(order['tax'])}  insurance {insurance}  "
               f"total {_amount(order['total'])}")
    out += ["", f"{'SYSTEM':<10} {'STATUS':<8} {'ATTEMPTS':<8} {'UPDATED':<25} {'IN THE STREAM':<42} LAST ERROR"]
    for s in report["downstream"]:
        attempts = "-" if s["attempts"] is None else str(s["attempts"])
        out.append(f"{s['system']:<10} {s['status'] or 'unknown':<8} {attempts:<8} {s['updated_at'] or '-':<25} "
                   f"{_queue_text(s):<42} {s['last_error'] or '-'}")
    if not report["queue_complete"]:
        out.append("(the stream's pending lists or backlog were longer than what was looked at: pending may be missed)")
    out.append("")
    out += render_dead(report["dead_letters"]) if report["dead_letters"] else ["no dead letters"]
    return "\n".join(out)


def _queue_text(system: dict[str, Any]) -> str:
    if not system["group_exists"]:
        return "no consumer group yet (no worker ran)"
    parts = [f"delivered {e['deliveries']}x, unacked (idle {e['idle_ms'] / 1000:.1f}s)" if e["delivered"]
             else "queued, not read yet" for e in system["entries"]]
    return "; ".join(parts) or "-"


# --- dead -------------------------------------------------------------------------------------------------------

async def _dead(store: CheckoutStore, args: argparse.Namespace) -> int:
    letters = await store.stream.dead_letters(system=args.system)
    counts = dict(sorted(Counter(letter.system for letter in letters).items()))
    if args.json:
        print(json.dumps({"count": len(letters), "by_system": counts,
                          "dead_letters": [_dead_doc(letter) for letter in letters]}, indent=2))
    elif not letters:
        print("no dead letters" + (f" for {args.system}" if args.system else ""))
    else:
        print(f"{len(letters)} dead letter(s): " + ", ".join(f"{system} {n}" for system, n in counts.items()))
        print("\n".join(render_dead([_dead_doc(letter) for letter in letters])))
    return 0


def _dead_doc(letter: DeadLetter) -> dict[str, Any]:
    return {"order_id": letter.order_id or None, "system": letter.system, "reason": letter.reason,
            "dead_lettered_at": _when(letter.at), "deliveries": letter.deliveries, "id": letter.id,
            "entry_id": letter.entry_id}


def render_dead(letters: Sequence[dict[str, Any]]) -> list[str]:
    out = [f"{'DEAD-LETTERED':<25} {'SYSTEM':<10} {'ORDER':<26} {'DELIVERIES':<10} REASON"]
    out += [f"{d['dead_lettered_at']:<25} {d['system']:<10} {d['order_id'] or '(none)':<26} {d['deliveries']:<10} "
            f"{d['reason']}" for d in letters]
    return out


# --- redrive ----------------------------------------------------------------------------------------------------

async def redrive(store: CheckoutStore, system: DownstreamSystem, order_ids: Sequence[str] | None) -> list[Redriven]:
    """Put `system`'s dead-lettered syncs back on the stream: these orders' (None: every one), one atomic step
    per order. Orders named without a dead letter for `system` are reported, not touched."""
    letters = await store.stream.dead_letters(system=system, order_ids=set(order_ids) if order_ids else None)
    by_order: dict[str, list[DeadLetter]] = {}
    for letter in letters:  # newest first
        by_order.setdefault(letter.order_id, []).append(letter)
    results = []
    for order_id in dict.fromkeys(order_ids) if order_ids else by_order:
        results.append(await _redrive_one(store, system, order_id, by_order.get(order_id, [])))
    return results


async def _redrive_one(store: CheckoutStore, system: DownstreamSystem, order_id: str,
                       letters: list[DeadLetter]) -> Redriven:
    if not letters:
        exists = await store.orders.exists(order_id)
        return Redriven(order_id, system, NOT_DEAD if exists else NO_ORDER)
    if not order_id:  # an entry that named no order: nothing to sync
        return Redriven(order_id, system, NO_ORDER)
    newest = letters[0]
    result = await store.orders.redrive(order_id, system, [letter.id for letter in letters],
                                        last_error=newest.reason, traceparent=newest.traceparent)
    if result.outcome == REDRIVEN:
        REDRIVES.add(1, {"system": system.value})
    return result


async def _redrive(store: CheckoutStore, args: argparse.Namespace) -> int:
    system = DownstreamSystem(args.system)
    results = await redrive(store, system, None if args.all else args.order_ids)
    done = sum(result.outcome == REDRIVEN for result in results)
    if args.json:
        print(json.dumps({"system": system.value, "redriven": done,
                          "results": [{"order_id": r.order_id or None, "outcome": r.outcome, "entry_id": r.entry_id}
                                      for r in results]}, indent=2))
    elif not results:
        print(f"no dead letters for {system.value}: nothing to redrive")
    else:
        for result in results:
            print(f"{system.value}  {result.order_id or '(no order id)'}  {_outcome_text(result)}")
        print(f"{done} redriven" + (f", {len(results) - done} not" if len(results) > done else ""))
    named_but_unknown = args.order_ids and any(r.outcome == NO_ORDER for r in results)
    return 1 if named_but_unknown else 0


def _outcome_text(result: Redriven) -> str:
    return {
        REDRIVEN: f"redriven: queued as stream entry {result.entry_id}; {result.system.value} is PENDING again, "
                  "attempts reset to 0",
        NOT_DEAD: f"nothing to redrive: no dead letter for {result.system.value} (redriven already?)",
        NO_ORDER: "not redriven: no such order (its dead letters, if any, stay)",
        ALREADY_SYNCED: f"not redriven: {result.system.value} has it already (SYNCED); its dead letter was deleted",
    }.get(result.outcome, result.outcome)


# --- shared -----------------------------------------------------------------------------------------------------

def _when(epoch_s: float | None) -> str | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")


def _amount(money: dict[str, str]) -> str:
    return f"{money['amount']} {money['currency']}"
