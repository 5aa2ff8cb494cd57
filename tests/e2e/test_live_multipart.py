"""Apollo's multipart subscriptions read strictly over real HTTP (uvicorn on TCP, a real Redis): the
stream opens with its delimiter, so nothing of it is preamble a spec reader (meros, Apollo Client) would
drop, and it closes with one "--graphql--"."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.handle import Sandbox
from tests.live import MULTIPART_ACCEPT
from tests.multipart import strict_parts
from tests.support import Served, serve_in_process, settings_for

ORDER = "subscription($id: ID!, $t: String!) { orderUpdated(id: $id, token: $t) { id status } }"
PRODUCT = "subscription($h: String!) { productChanged(handle: $h) { handle } }"


@pytest.fixture
async def served(sandbox: Sandbox, redis_url: str) -> AsyncIterator[Served]:
    async with serve_in_process(settings_for(sandbox, REDIS_URL=redis_url)) as s:
        yield s


async def test_a_whole_multipart_subscription_reads_strictly(served: Served) -> None:
    """A wrong token: one null, then the end, every byte of it inside the delimiters."""
    body = {"query": ORDER, "variables": {"id": "ord_" + "0" * 20, "t": "nope"}}
    async with httpx.AsyncClient(base_url=served.url, timeout=15) as http:
        answer = await http.post("/graphql", json=body, headers={"accept": MULTIPART_ACCEPT})
    assert answer.status_code == 200
    text = answer.text
    assert text.startswith("\r\n--graphql\r\n"), text[:80]
    found, preamble = strict_parts(text, answer.headers["content-type"])
    assert preamble == "\r\n"
    assert [part["payload"]["data"] for part in found if part != {}] == [{"orderUpdated": None}]
    assert text.endswith("\r\n--graphql--\r\n")


async def test_the_first_state_is_a_part_to_a_strict_reader(served: Served) -> None:
    """An open product stream: its first state is read as a part (heartbeat or not before it)."""
    body = {"query": PRODUCT, "variables": {"h": "victorian-diamond-brooch"}}
    async with httpx.AsyncClient(base_url=served.url, timeout=15) as http, \
            http.stream("POST", "/graphql", json=body, headers={"accept": MULTIPART_ACCEPT}) as answer:
        text = ""
        async for chunk in answer.aiter_text():
            text += chunk
            if "victorian-diamond-brooch" in text and text.rstrip().endswith("--graphql"):
                break
    found, preamble = strict_parts(text + "--\r\n", answer.headers["content-type"])  # closed here to read it
    assert preamble == "\r\n"
    assert {"productChanged": {"handle": "victorian-diamond-brooch"}} in [p["payload"]["data"] for p in found if p]
