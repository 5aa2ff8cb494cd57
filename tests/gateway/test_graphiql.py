"""The GraphiQL page (`gateway.graphiql`): offline, its assets all served by Bezel, the README's product page as
its example, inlined so no query text can close the script it sits in."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway import graphiql
from tests.support import PRODUCT_PAGE_QUERY, ROOT

STATIC = ROOT / "gateway" / "static"


def example_in(page: str) -> str:
    literal = re.search(r"const EXAMPLE_QUERY = (.*);\n", page)
    assert literal, "the example query is not inlined"
    return json.loads(literal.group(1))


def test_the_page_loads_only_assets_bezel_serves() -> None:
    page = graphiql.graphiql_page()
    assert "__ASSETS__" not in page
    assert "__EXAMPLE_QUERY__" not in page
    assets = [a for a in re.findall(r'(?:src|href)="([^"]+)"', page) if not a.startswith("data:")]
    assert len(assets) == 6  # React twice, GraphiQL and its explorer, each script and stylesheet
    for asset in assets:
        assert asset.startswith(f"{graphiql.ASSETS_PATH}/"), asset  # nothing from a CDN
        assert (STATIC / "graphiql" / asset.removeprefix(f"{graphiql.ASSETS_PATH}/")).is_file(), asset


def test_the_example_is_the_product_page_query() -> None:
    assert example_in(graphiql.graphiql_page()) == PRODUCT_PAGE_QUERY


def test_an_example_cannot_close_the_script_it_is_inlined_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = 'query { a } # </script><script>alert("x")</script>\n'
    (tmp_path / "static").mkdir()
    shutil.copy(STATIC / "graphiql.html", tmp_path / "static" / "graphiql.html")
    (tmp_path / "static" / "product-page.graphql").write_text(hostile)
    monkeypatch.setattr(graphiql, "resources", SimpleNamespace(files=lambda _package: tmp_path))
    page = graphiql.graphiql_page()
    template = (STATIC / "graphiql.html").read_text()
    assert page.count("</script>") == template.count("</script>")
    assert example_in(page) == hostile  # the JavaScript string is still the text itself
