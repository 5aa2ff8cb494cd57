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
from gateway.documents.trusted import problems_of, summary
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
    """Every operation of the manifest against the schema this gateway serves, with its limits: each
    problem told as a limit (the `[gateway]` key and its value here) or as the schema's."""
    schema = build_schema(settings.gateway, introspection=not settings.production)
    problems = []
    operations = manifest.load(path)
    for op in operations:
        problems += problems_of(op, schema.documents.prepare(op.body, trusted=True), schema.documents.limits)
    for problem in problems:
        print(problem, file=sys.stderr)
    broken = len({p.operation for p in problems})
    print(f"{len(operations)} operation(s), {broken} broken" + (f": {summary(problems)}" if problems else ""),
          file=sys.stderr)
    return 1 if problems else 0
