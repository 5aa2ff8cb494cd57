"""`bezel documents check|build` and `bezel schema`: what a storefront's CI runs against this gateway.

    bezel schema                               the schema's SDL (schema.graphql is this, committed)
    bezel documents build DIR... [-o FILE]     an Apollo persisted query manifest of *.graphql files
    bezel documents check MANIFEST             exit 0, or 1 with every operation that no longer
                                               validates against this schema, and why
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from graphql import OperationDefinitionNode, parse

from gateway.documents import manifest
from gateway.errors import ConfigError
from gateway.settings import Settings
from schema import build_schema


def print_schema() -> int:
    print(build_schema().as_str())
    return 0


def build(sources: list[str], output: str | None) -> int:
    """A manifest of every operation in the .graphql files found under `sources` (one per file)."""
    operations: dict[str, str] = {}
    for source in sources:
        path = Path(source)
        for file in sorted(path.rglob("*.graphql")) if path.is_dir() else [path]:
            body = file.read_text()
            names = [d.name.value for d in parse(body).definitions
                     if isinstance(d, OperationDefinitionNode) and d.name is not None]
            if len(names) != 1:
                raise ConfigError(f"{file}: a manifest file holds exactly one named operation")
            operations[names[0]] = body
    text = orjson.dumps(manifest.apollo_manifest(operations), option=orjson.OPT_INDENT_2).decode() + "\n"
    if output:
        Path(output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def check(path: str, settings: Settings) -> int:
    """Every operation of the manifest against the schema this gateway serves, with its limits."""
    schema = build_schema(settings.gateway, introspection=not settings.production)
    broken = []
    operations = manifest.load(path)
    for op in operations:
        prepared = schema.documents.prepare(op.body, trusted=True)
        if prepared is None:
            broken.append((op.name or op.id, "does not parse"))
        elif prepared.errors:
            broken.extend((op.name or op.id, e.message) for e in prepared.errors)
    for label, problem in broken:
        print(f"{label}: {problem}", file=sys.stderr)
    print(f"{len(operations)} operation(s), {len({b[0] for b in broken})} broken", file=sys.stderr)
    return 1 if broken else 0
