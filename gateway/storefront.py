"""The demo storefront (storefront/ at the repository's top): its pages, served as they are.

A storefront team's app, built only on the public GraphQL API: static ES modules, no build step,
its libraries vendored so it works offline. Bezel serves the files and the shell page for each of the
app's routes; the app sends its operations by id, from its own manifest
(storefront/persisted-query-manifest.json), which the gateway trusts like `[documents] manifest`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.settings import StorefrontSettings

log = logging.getLogger("bezel.storefront")
PAGES = ("/", "/products/{handle}", "/bag", "/checkout", "/orders/{order_id}")  # the app routes the rest itself
MANIFEST = "persisted-query-manifest.json"


def storefront_manifest(settings: StorefrontSettings) -> str:
    """The storefront's manifest to trust, or "" when the storefront is not served."""
    root = _root(settings)
    return str(root / MANIFEST) if root is not None else ""


def storefront_routes(settings: StorefrontSettings) -> list[BaseRoute]:
    root = _root(settings)
    if root is None:
        return []
    shell = (root / "web" / "index.html").read_text()
    manifest = root / MANIFEST

    async def page(request: Request) -> Response:
        return HTMLResponse(shell, headers={"cache-control": "no-cache"})

    async def operations(request: Request) -> Response:
        return FileResponse(manifest, media_type="application/json", headers={"cache-control": "no-cache"})

    return [*(Route(path, page) for path in PAGES), Route("/storefront/manifest.json", operations),
            Mount("/storefront", app=StaticFiles(directory=root / "web"))]


def _root(settings: StorefrontSettings) -> Path | None:
    if not settings.enabled:
        return None
    root = Path(settings.root)
    if not (root / "web" / "index.html").is_file() or not (root / MANIFEST).is_file():
        log.warning("storefront: nothing to serve at %s (web/index.html and %s); the demo is off", root.resolve(),
                    MANIFEST)
        return None
    return root
