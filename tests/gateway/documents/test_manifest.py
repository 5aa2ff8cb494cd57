"""Both manifest formats storefront tooling emits are read; anything else stops the process, saying why."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.documents import manifest
from gateway.errors import ConfigError


def write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc))
    return path


def test_apollo_s_persisted_query_manifest(tmp_path: Path) -> None:
    ops = manifest.load(write(tmp_path, {"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": "abc", "name": "Page", "type": "query", "body": "query Page { __typename }"}]}))
    assert ops == [manifest.ManifestOperation(id="abc", body="query Page { __typename }", name="Page")]


def test_a_plain_map_of_codegen_or_relay(tmp_path: Path) -> None:
    ops = manifest.load(write(tmp_path, {"sha256:1": "{ __typename }", "2": "query Q { __typename }"}))
    assert [(o.id, o.name) for o in ops] == [("sha256:1", None), ("2", None)]


@pytest.mark.parametrize(("doc", "says"), [
    ([1, 2], "neither"),
    ({"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}, "version 1"),
    ({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": 1}]}, "operations[0]"),
    ({"a": 1}, "neither"),
])
def test_anything_else_is_a_config_error(tmp_path: Path, doc: object, says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        manifest.load(write(tmp_path, doc))


def test_a_missing_or_broken_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        manifest.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not JSON"):
        manifest.load(tmp_path / "bad.json")


def test_a_built_manifest_ids_each_operation_by_its_body_s_sha256() -> None:
    import hashlib

    body = "query Page { __typename }"
    doc = manifest.apollo_manifest({"Page": body})
    assert doc["operations"] == [{"id": hashlib.sha256(body.encode()).hexdigest(), "name": "Page",
                                  "type": "query", "body": body}]
