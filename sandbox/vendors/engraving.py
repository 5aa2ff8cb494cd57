"""Engraving-preview vendor, imitating a Customer's Canvas-style synchronous render API.

    POST /api/v1/previews   {text, font, placement, product_sku} -> 201 {id, image: {url, ...}, constraints}
    GET  /previews/{id}.svg                                      the rendered preview image

The vendor renders the image itself (SVG: the text set along the band, in the chosen font). The
preview id encodes what was asked, so an image URL stays valid for as long as anyone keeps it.
Errors: 422 `{"errors": [{"field", "code", "message"}]}`.
"""

from __future__ import annotations

import base64
import binascii
import re
from html import escape
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.state import SandboxState

FONTS = {
    "script": "'Snell Roundhand', 'Brush Script MT', cursive",
    "block": "'Helvetica Neue', Arial, sans-serif",
    "serif": "Georgia, 'Times New Roman', serif",
}
MAX_LENGTH = {"inside_band": 24, "outside_band": 16, "back": 20}
ALLOWED_DESCRIPTION = "A-Z a-z 0-9 space & . , ' ! ? - ♥"
ALLOWED_PATTERN = r"^[A-Za-z0-9 &.,'!?\-♥]*$"
_ALLOWED = re.compile(ALLOWED_PATTERN)


def error_body(status: int, path: str = "") -> dict[str, Any]:
    code = {401: "unauthorized", 404: "not_found", 429: "rate_limited"}.get(
        status, "render_failed" if status >= 500 else "invalid_request")
    return {"errors": [{"field": None, "code": code, "message": code.replace("_", " ").capitalize() + "."}]}


def constraints(placement: str) -> dict[str, Any]:
    return {
        "max_length": MAX_LENGTH.get(placement, min(MAX_LENGTH.values())),
        "allowed_characters": ALLOWED_DESCRIPTION,
        "allowed_pattern": ALLOWED_PATTERN,
        "fonts": list(FONTS),
        "placements": list(MAX_LENGTH),
    }


def _invalid(field: str, code: str, message: str, **details: Any) -> Response:
    error = {"field": field, "code": code, "message": message, **({"details": details} if details else {})}
    return JSONResponse({"errors": [error]}, status_code=422)


def routes(state: SandboxState) -> list[Route]:
    async def preview(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            text, font, placement = str(body["text"]), str(body["font"]), str(body["placement"])
            sku = str(body.get("product_sku") or "")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _invalid("body", "invalid_json", "Body must be a preview request.")
        if placement not in MAX_LENGTH:
            return _invalid("placement", "unknown_placement", f"Placement must be one of {', '.join(MAX_LENGTH)}.",
                            allowed=list(MAX_LENGTH))
        if font not in FONTS:
            return _invalid("font", "unknown_font", f"Font must be one of {', '.join(FONTS)}.", allowed=list(FONTS))
        limit = MAX_LENGTH[placement]
        if not text.strip():
            return _invalid("text", "empty", "Text must not be empty.")
        if len(text) > limit:
            return _invalid("text", "too_long", f"Text is {len(text)} characters; {placement} allows {limit}.",
                            max_length=limit, length=len(text))
        if not _ALLOWED.match(text):
            return _invalid("text", "unsupported_characters", f"Text may only use {ALLOWED_DESCRIPTION}.",
                            allowed=ALLOWED_DESCRIPTION)
        token = base64.urlsafe_b64encode(orjson.dumps([text, font, placement, sku])).decode().rstrip("=")
        preview_id = f"prv_{token}"
        root = f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"
        return JSONResponse(
            {
                "id": preview_id,
                "status": "rendered",
                "text": text,
                "font": font,
                "placement": placement,
                "image": {"url": f"{root}/previews/{preview_id}.svg", "format": "svg", "width": 900, "height": 360},
                "constraints": constraints(placement),
            },
            status_code=201,
        )

    async def image(request: Request) -> Response:
        token = request.path_params["preview_id"].removeprefix("prv_")
        try:
            text, font, placement, _sku = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, orjson.JSONDecodeError, ValueError):
            return JSONResponse(error_body(404), status_code=404)
        return Response(render_svg(str(text), str(font), str(placement)), media_type="image/svg+xml",
                        headers={"cache-control": "public, max-age=31536000, immutable"})

    return [
        Route("/api/v1/previews", preview, methods=["POST"]),
        Route("/previews/{preview_id}.svg", image),
    ]


def render_svg(text: str, font: str, placement: str) -> str:
    """The preview: a band seen from above, the text engraved along its arc."""
    family = FONTS.get(font, FONTS["serif"])
    inside = placement == "inside_band"
    band = "#d8b25a" if placement != "back" else "#c0c0c8"
    # Inside: along the lower band, where the inner surface shows; outside: along the top of the band.
    path = "M 130 215 A 320 105 0 0 0 770 215" if inside else "M 150 170 A 300 120 0 0 1 750 170"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="900" height="360" viewBox="0 0 900 360">'
        '<defs><linearGradient id="metal" x1="0" x2="0" y1="0" y2="1">'
        f'<stop offset="0" stop-color="#fff8e6"/><stop offset="0.5" stop-color="{band}"/>'
        '<stop offset="1" stop-color="#8a6d2b"/></linearGradient>'
        f'<path id="arc" d="{path}" fill="none"/></defs>'
        '<rect width="900" height="360" fill="#faf7f2"/>'
        '<ellipse cx="450" cy="190" rx="360" ry="150" fill="url(#metal)"/>'
        '<ellipse cx="450" cy="190" rx="300" ry="110" fill="#faf7f2"/>'
        f'<text font-family="{escape(family)}" font-size="38" fill="#4a3a1a" letter-spacing="2">'
        f'<textPath href="#arc" startOffset="50%" text-anchor="middle">{escape(text)}</textPath></text>'
        f'<text x="450" y="345" font-family="Arial" font-size="16" text-anchor="middle" fill="#888">'
        f"{escape(placement.replace('_', ' '))} · {escape(font)}</text></svg>"
    )
