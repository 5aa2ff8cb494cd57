"""Engraving preview mapping: image URL and limits, and 422s that blame the text or font."""

from __future__ import annotations

import httpx
import pytest
import respx

from connectors import engraving
from connectors.engraving import EngravingAPI
from connectors.errors import VendorHTTPError, VendorRejectedInput
from tests.connectors.helpers import BASE, execute, sent_json

PREVIEW = {"id": "prv_1", "status": "rendered", "text": "Forever", "font": "script", "placement": "inside_band",
           "image": {"url": "https://cdn.test/prv_1.svg", "format": "svg", "width": 900, "height": 360},
           "constraints": {"max_length": 24, "allowed_characters": "A-Z", "allowed_pattern": "^[A-Z]*$",
                           "fonts": ["script", "block"], "placements": ["inside_band"]}}


@respx.mock(base_url=BASE, using="httpx")
async def test_a_preview_maps_image_and_limits(respx_mock) -> None:
    route = respx_mock.post("/api/v1/previews").mock(return_value=httpx.Response(201, json=PREVIEW))
    call = EngravingAPI().preview(text="Forever", font="script", placement="inside_band", sku="AUR-1")
    preview = await execute(engraving, call)
    assert preview.image_url == "https://cdn.test/prv_1.svg"
    assert preview.limits.max_length == 24
    assert preview.limits.fonts == ("script", "block")
    assert sent_json(route) == {"text": "Forever", "font": "script", "placement": "inside_band", "product_sku": "AUR-1"}


@pytest.mark.parametrize(
    ("field", "code", "details", "message"),
    [
        ("text", "too_long", {"max_length": 16}, "Engraving text can be at most 16 characters here."),
        ("text", "too_long", {}, "The engraving text is too long for this placement."),
        ("font", "unknown_font", {"allowed": ["script", "block"]}, "Choose one of these fonts: script, block."),
        ("placement", "unknown_placement", {}, "That placement is not available."),
        ("text", "novel_reason", {}, "The engraving cannot be made as entered."),
    ],
)
@respx.mock(base_url=BASE, using="httpx")
async def test_422_blames_the_field_in_our_words(respx_mock, field: str, code: str, details: dict,
                                                 message: str) -> None:
    respx_mock.post("/api/v1/previews").mock(return_value=httpx.Response(
        422, json={"errors": [{"field": field, "code": code, "message": "vendor wording", "details": details}]}))
    with pytest.raises(VendorRejectedInput) as caught:
        await execute(engraving, EngravingAPI().preview(text="x", font="script", placement="inside_band", sku="A"))
    assert caught.value.field == field
    assert caught.value.public_message == message


@respx.mock(base_url=BASE, using="httpx")
async def test_render_failures_are_vendor_errors(respx_mock) -> None:
    respx_mock.post("/api/v1/previews").mock(return_value=httpx.Response(
        500, json={"errors": [{"field": None, "code": "render_failed", "message": "Render failed."}]}))
    with pytest.raises(VendorHTTPError):
        await execute(engraving, EngravingAPI().preview(text="x", font="script", placement="inside_band", sku="A"))
