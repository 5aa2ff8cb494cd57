"""Reading a trusted-document manifest, in either format storefront tooling emits.

    Apollo's persisted query manifest     {"format": "apollo-persisted-query-manifest", "version": 1,
                                           "operations": [{"id", "name", "type", "body"}, ...]}
    a plain map (GraphQL Codegen's client {"<id>": "<document>", ...}
    preset, Relay's persisted queries)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import orjson

from gateway.errors import ConfigError

APOLLO_FORMAT = "apollo-persisted-query-manifest"


@dataclass(frozen=True)
class ManifestOperation:
    id: str
    body: str
    name: str | None = None


def load(path: str | Path) -> list[ManifestOperation]:
    """The manifest's operations; `ConfigError` naming what is wrong with the file."""
    try:
        doc = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(f"documents.manifest: cannot read {path}: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"documents.manifest: {path} is not JSON: {exc}") from exc
    if isinstance(doc, dict) and doc.get("format") == APOLLO_FORMAT:
        return _apollo(doc, path)
    if isinstance(doc, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
        return [ManifestOperation(id=k, body=v) for k, v in doc.items()]
    raise ConfigError(f"documents.manifest: {path} is neither an Apollo persisted query manifest nor a "
                      '{"<id>": "<document>"} map')


def _apollo(doc: dict[str, object], path: str | Path) -> list[ManifestOperation]:
    if doc.get("version") != 1:
        raise ConfigError(f"documents.manifest: {path}: only version 1 of {APOLLO_FORMAT} is known")
    operations = doc.get("operations")
    if not isinstance(operations, list):
        raise ConfigError(f"documents.manifest: {path}: `operations` must be a list")
    out = []
    for i, op in enumerate(operations):
        if not (isinstance(op, dict) and isinstance(op.get("id"), str) and isinstance(op.get("body"), str)):
            raise ConfigError(f"documents.manifest: {path}: operations[{i}] needs a string `id` and `body`")
        out.append(ManifestOperation(id=op["id"], body=op["body"], name=op.get("name")))
    return out


def apollo_manifest(operations: dict[str, str]) -> dict[str, object]:
    """An Apollo persisted query manifest for named operation texts (id: the body's SHA-256)."""
    from graphql import OperationDefinitionNode, parse

    entries = []
    for name, body in sorted(operations.items()):
        operation = next(d for d in parse(body).definitions if isinstance(d, OperationDefinitionNode))
        entries.append({"id": hashlib.sha256(body.encode()).hexdigest(), "name": name,
                        "type": operation.operation.value, "body": body})
    return {"format": APOLLO_FORMAT, "version": 1, "operations": entries}
