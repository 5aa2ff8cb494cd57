"""Engraving-preview connector: a Customer's Canvas-style synchronous render.

`POST /api/v1/previews` with `{text, font, placement, product_sku}` answers 201 with the rendered
image's URL (the browser loads it from the vendor) and the constraints that apply: maximum length,
allowed characters, fonts and placements. A 422 `{"errors": [{field, code, message}]}` blames the
text, font or placement; the vendor's message is already written for shoppers.
"""

from __future__ import annotations

from typing import Any

from connectors import payload as p
from connectors.http import ProviderError, VendorCall, VendorRequest, bearer
from connectors.models import EngravingLimits, EngravingPreview, Vendor

VENDOR = Vendor.ENGRAVING
_FIELDS = {"text": "text", "font": "font", "placement": "placement"}


auth_headers = bearer  # the provider takes `Authorization: Bearer <key>`


def read_error(status: int, body: Any) -> ProviderError:
    first = p.obj(p.seq(body, "errors")[0])
    code, message, field = first.get("code"), str(first.get("message", "")), first.get("field")
    if status == 422 and field in _FIELDS:
        return ProviderError(code=code, message=message, rejected_field=_FIELDS[field],
                             public_message=_shopper_message(str(code), first.get("details") or {}))
    return ProviderError(code=code, message=message)


def _shopper_message(code: str, details: dict[str, Any]) -> str:
    """What we tell the shopper, in our words, from the vendor's code and structured details."""
    allowed = details.get("allowed")
    listed = ", ".join(map(str, allowed)) if isinstance(allowed, list) else str(allowed or "")
    if code == "too_long" and isinstance(details.get("max_length"), int):
        return f"Engraving text can be at most {details['max_length']} characters here."
    messages = {
        "empty": "Enter the text to engrave.",
        "too_long": "The engraving text is too long for this placement.",
        "unsupported_characters": f"Engraving text may only use {listed}." if listed
        else "The engraving text has characters that cannot be engraved.",
        "unknown_font": f"Choose one of these fonts: {listed}." if listed else "That font is not available.",
        "unknown_placement": f"Choose one of these placements: {listed}." if listed
        else "That placement is not available.",
    }
    return messages.get(code, "The engraving cannot be made as entered.")


class EngravingAPI:
    def preview(self, *, text: str, font: str, placement: str, sku: str) -> VendorCall[EngravingPreview]:
        body = {"text": text, "font": font, "placement": placement, "product_sku": sku}

        def parse(data: Any) -> EngravingPreview:
            limits = p.obj(data, "constraints")
            return EngravingPreview(
                image_url=p.text(p.obj(data, "image"), "url"),
                text=p.text(data, "text"),
                font=p.text(data, "font"),
                placement=p.text(data, "placement"),
                limits=EngravingLimits(
                    max_length=p.integer(limits, "max_length"),
                    allowed_characters=p.text(limits, "allowed_characters"),
                    allowed_pattern=p.text(limits, "allowed_pattern"),
                    fonts=tuple(str(f) for f in p.seq(limits, "fonts")),
                    placements=tuple(str(x) for x in p.seq(limits, "placements")),
                ),
            )

        request = VendorRequest("POST", "/api/v1/previews", json=body)
        return VendorCall(VENDOR, "engraving.preview", request, parse, result_type=EngravingPreview)
