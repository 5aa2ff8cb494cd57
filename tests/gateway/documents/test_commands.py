"""What a storefront's CI runs (`gateway.documents.commands`): the schema's SDL, a manifest built from .graphql
files, and a manifest checked against this gateway's schema, naming every broken operation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from graphql import build_schema as build_sdl

from gateway.documents import commands, manifest
from gateway.errors import ConfigError
from gateway.settings import load_settings


def test_the_schema_command_prints_sdl_a_client_can_build(capsys: pytest.CaptureFixture[str]) -> None:
    assert commands.print_schema() == 0
    sdl = build_sdl(capsys.readouterr().out)
    assert {"product", "order"} <= set(sdl.query_type.fields)
    assert "placeOrder" in sdl.mutation_type.fields


def test_build_writes_one_operation_per_file_found_under_each_source(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ops" / "nested").mkdir(parents=True)
    page, cart = "query Page { __typename }\n", "# a comment\nquery Cart { __typename }\n"
    (tmp_path / "ops" / "page.graphql").write_text(page)
    (tmp_path / "ops" / "nested" / "cart.graphql").write_text(cart)
    (tmp_path / "ops" / "notes.txt").write_text("not a document")
    single = tmp_path / "single.graphql"
    single.write_text("mutation Single { __typename }")
    out = tmp_path / "manifest.json"
    assert commands.build([str(tmp_path / "ops"), str(single)], str(out)) == 0
    ops = manifest.load(out)
    assert [(o.name, o.body) for o in ops] == [("Cart", cart), ("Page", page), ("Single", single.read_text())]
    assert all(o.id == hashlib.sha256(o.body.encode()).hexdigest() for o in ops)
    assert [o["type"] for o in json.loads(out.read_text())["operations"]] == ["query", "query", "mutation"]
    assert commands.build([str(single)], None) == 0  # no -o: to stdout
    assert json.loads(capsys.readouterr().out)["operations"][0]["name"] == "Single"


@pytest.mark.parametrize("text", ["query A { __typename } query B { __typename }", "{ __typename }",
                                  "fragment F on Query { __typename }"])
def test_build_refuses_a_file_without_exactly_one_named_operation(tmp_path: Path, text: str) -> None:
    (tmp_path / "bad.graphql").write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.graphql: a manifest file holds exactly one named operation"):
        commands.build([str(tmp_path)], str(tmp_path / "out.json"))
    assert not (tmp_path / "out.json").exists()


def test_check_passes_a_manifest_of_operations_that_validate(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest.apollo_manifest({"Page": "query Page { __typename }"})))
    assert commands.check(str(path), load_settings(None, env="test")) == 0
    assert "1 operation(s), 0 broken" in capsys.readouterr().err


def test_check_fails_naming_every_broken_operation_and_why(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"ok": "query Ok { __typename }", "gone": "query Gone { removedField }",
                                "garbled": "query {"}))
    assert commands.check(str(path), load_settings(None, env="test")) == 1
    err = capsys.readouterr().err
    assert "gone: not valid against the schema: Cannot query field 'removedField'" in err
    assert "garbled: does not parse: Syntax Error" in err
    assert "ok:" not in err
    assert "3 operation(s), 2 broken: 1 not valid against the schema, 1 not parsing" in err


def test_check_tells_a_limit_apart_from_a_schema_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What Apollo's manifest generator made of the storefront's page once failed here "against the schema"."""
    path = tmp_path / "m.json"
    copies = "query Copies { " + " ".join(["... on Query { __typename }"] * 17) + " }"
    deep = "query Deep { " + "product(handle: \"a\") { variants { price { amount } } } " + "}"
    path.write_text(json.dumps({"copies": copies, "deep": deep, "long": "query Long { " + "__typename " * 2100 + "}",
                                "gone": "query Gone { removedField }"}))
    settings = load_settings(None, env="test", gateway={"max_depth": 2})
    assert commands.check(str(path), settings) == 1
    err = capsys.readouterr().err
    assert "copies: over the limit [gateway] max_copies = 16: '__typename' is selected 17 times" in err
    assert "deep: over the limit [gateway] max_depth = 2: 'Deep' exceeds maximum operation depth of 2" in err
    assert "long: over the limit [gateway] max_tokens = 2000: Syntax Error: Document contains more than 2000" in err
    assert "gone: not valid against the schema" in err
    assert "4 operation(s), 4 broken: 3 over a limit, 1 not valid against the schema" in err


def test_check_of_an_unreadable_manifest_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        commands.check(str(tmp_path / "missing.json"), load_settings(None, env="test"))


def test_check_holds_operations_to_the_schema_production_serves(tmp_path: Path) -> None:
    """Production has no introspection: an operation that reads it would fail there, so the check fails."""
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"types": "query Types { __schema { types { name } } }"}))
    staging = load_settings(None, env="production", insecure={"allow_vendors": True, "allow_documents": True,
                                                              "allow_storefront": True})
    assert commands.check(str(path), load_settings(None, env="test")) == 0
    assert commands.check(str(path), staging) == 1
