"""graphql-transport-ws on /graphql: a subscription runs as over HTTP, its document resolved and admitted the
same way; a query or a mutation is refused there (an `error` for its id, the socket kept), a refused document
too; a client over its page budget is refused at the handshake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.app import create_app
from sandbox.handle import Sandbox
from tests.support import settings_for

PRODUCT = 'subscription { productChanged(handle: "victorian-diamond-brooch") { handle variants { sku } } }'
PROTOCOL = ["graphql-transport-ws"]


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(sandbox))) as client:
        yield client


def opened(http: TestClient) -> Any:
    socket = http.websocket_connect("/graphql", subprotocols=PROTOCOL)
    ws = socket.__enter__()
    ws.send_json({"type": "connection_init"})
    assert ws.receive_json() == {"type": "connection_ack"}
    return socket, ws


def test_a_subscription_over_a_websocket_sends_the_product(http: TestClient) -> None:
    socket, ws = opened(http)
    ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": PRODUCT}})
    message = ws.receive_json()
    assert message["type"] == "next"
    assert message["payload"]["data"]["productChanged"]["variants"] == [{"sku": "VIC-ORIG"}]
    ws.send_json({"id": "1", "type": "complete"})
    socket.__exit__(None, None, None)


@pytest.mark.parametrize(("payload", "code"), [
    ({"query": '{ product(handle: "victorian-diamond-brooch") { handle } }'}, "BAD_REQUEST"),
    ({"query": "x" * 100_000}, "PAYLOAD_TOO_LARGE"),
])
def test_what_is_not_a_subscription_or_is_refused_is_an_error_for_its_id(http: TestClient, payload: dict[str, Any],
                                                                         code: str) -> None:
    socket, ws = opened(http)
    ws.send_json({"id": "q", "type": "subscribe", "payload": payload})
    message = ws.receive_json()
    assert (message["type"], message["id"], message["payload"][0]["extensions"]["code"]) == ("error", "q", code)
    ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": PRODUCT}})  # the socket still serves
    assert ws.receive_json()["type"] == "next"
    socket.__exit__(None, None, None)


def test_a_client_over_its_page_budget_is_refused_at_the_handshake(sandbox: Sandbox) -> None:
    with TestClient(create_app(settings_for(sandbox, BEZEL_LIMITS__PAGES="1/minute"))) as http:
        http.post("/graphql", json={"query": "{ __typename }"})
        with pytest.raises(WebSocketDisconnect) as refused, http.websocket_connect("/graphql", subprotocols=PROTOCOL):
            pass
        assert refused.value.code == 1008
