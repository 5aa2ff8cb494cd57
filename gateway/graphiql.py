"""GraphiQL, offline: its page with the README's product page as the example, its assets served by Bezel."""

from __future__ import annotations

from importlib import resources

import orjson

ASSETS_PATH = "/_bezel/graphiql"


def graphiql_page() -> str:
    """The page (gateway/static/graphiql.html) pointing at the local assets, the example query inlined."""
    page = resources.files("gateway").joinpath("static/graphiql.html").read_text()
    example = resources.files("gateway").joinpath("static/product-page.graphql").read_text()
    return page.replace("__ASSETS__", ASSETS_PATH).replace(
        "__EXAMPLE_QUERY__", orjson.dumps(example).decode().replace("</", "<\\/"))
