"""One execution of a subscription's selection per (document, operation, variables, new state) per process.

graphql-core runs a subscription's selection set once per event and subscriber: 10,000 pages open on one
product and one sale meant 10,000 executions of the same selection over the same state, each giving the
same answer (bench/live.py measured ~175 us of CPU per page told). The hub (`resolvers.live`) already
reads a changed product once and hands the same state object to every subscriber; a `productChanged`
payload carries that state's `memo`, and the first subscriber to execute a given document with given
variables over it runs the selection; every other one awaits that run's result.

What is shared: the executed `ExecutionResult` (data and errors), for a document with the same text (or
the same prepared operation), operation name and coerced variables. What is not: each subscriber's
extensions, framing and encoding. A selection over a live product depends on the document, its variables
and the state alone: the product's fields read the state and the catalog, never who asks.

Reaches into graphql-core's executor (`execute_operation`, overridden in `schema.bounds`, and
`build_per_event_executor`'s copy with the payload as its `root_value`): listed in `schema.internals`.
`share = False` on the execution context class turns it off (`tests/schema/test_shared_events.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, MutableMapping
from typing import Any

import orjson
from graphql import OperationDefinitionNode

MEMO = "live_memo"  # the payload's attribute holding its state's memo (schema.product.Product)


def key_of(operation: OperationDefinitionNode, variables: dict[str, Any]) -> Hashable:
    """What makes two subscribers' executions over one state the same: the document's text (or, for
    a document parsed without locations, the operation node itself) and its coerced variables."""
    source = operation.loc.source.body if operation.loc is not None else None
    document: Hashable = source if source is not None else id(operation)
    name = operation.name.value if operation.name is not None else None
    return ("execution", document, name, orjson.dumps(variables, option=orjson.OPT_SORT_KEYS, default=repr))


def shared(memo: MutableMapping[Hashable, Any], key: Hashable, operation: OperationDefinitionNode,
           run: Callable[[], Any]) -> Any:
    """`run()` once for `key` in `memo`: an ExecutionResult as is, an awaitable as a task every
    subscriber of the state awaits (shielded: one subscriber leaving does not cancel the others' run)."""
    found = memo.get(key)
    if found is not None:
        _, result = found
        return _awaited(result) if isinstance(result, asyncio.Future) else result
    result = run()
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        task = asyncio.ensure_future(result)
        memo[key] = (operation, task)  # the operation kept alive: its id may be the key
        return _awaited(task)
    memo[key] = (operation, result)
    return result


async def _awaited(task: asyncio.Future[Any]) -> Any:
    return await asyncio.shield(task)
