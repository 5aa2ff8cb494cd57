"""The README's examples run as written, against what `make run` starts (`bezel dev --config bezel.toml`: the
sandbox vendors, the gateway, the order workers, a private Redis), each fenced block a test of its own, in
the README's order.

- A ```graphql block is posted to /graphql and must answer with no `errors` and no `userErrors`; one with
  `@defer`/`@stream` is asked for in parts (multipart/mixed), as a streaming client does. Its variables,
  if it has any, are the ```json variables block that follows it.
- A ```sh / ```bash / ```console block is run with bash (`set -e`) and must exit 0. `curl` runs with
  `--fail-with-body`, and an answer from /graphql must hold no `errors`; `bezel` is this checkout's.
- `<!-- readme-test: skip (reason) -->` just before a block skips it, saying why (a skip needs a reason);
  `<!-- readme-test: expect-error CODE -->` before a ```graphql block expects that error instead.
- As written means on the README's ports: `localhost:8000` and `:8900` are this test's gateway and sandbox.
  An order id in an example (`ord_…`, `ord_7b48...`) and `<orderToken>` are the order the README's
  placeOrder example placed. Commands run in a scratch copy of what they write into (`storefront/`), so
  `bezel documents build ... -o storefront/...` never touches the checkout.

`-ra` (the suite's default) lists the skipped blocks with their reasons; the summary line counts those run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.support import BezelDev, run_bezel_dev
from tests.multipart import ACCEPT_PARTS, merged, parts
from tests.support import ROOT

README = ROOT / "README.md"
SHELLS = {"sh", "bash", "shell", "console"}
DIRECTIVE = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->$")
FENCE = re.compile(r"^```(\S*)\s*(.*)$")
ORDER_ID = re.compile(r"ord_(?:…|[0-9a-f]{20})")

# curl fails on an HTTP error, and an answer from /graphql with errors fails the block.
SHELL_PRELUDE = r"""
set -e -o pipefail
curl() {
  local out
  out=$(command curl -sS --fail-with-body "$@") || { printf '%s\n' "$out"; return 1; }
  printf '%s\n' "$out"
  case "$*" in *"/graphql"*) if printf '%s' "$out" | grep -q '"errors"'; then echo "GraphQL errors" >&2; return 1; fi;;
  esac
}
"""


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence
    lang: str
    info: str  # what follows the language on the fence (`variables`)
    text: str
    directive: str  # the readme-test comment just before it, or ""
    variables: dict[str, Any] | None = None  # a graphql block's, from the ```json variables block after it

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.lang}"


def blocks(markdown: str) -> list[Block]:
    """Every fenced block, with the directive before it; a ```json variables block joins its graphql block."""
    found: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start = i
        end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```")
        previous = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        directive = DIRECTIVE.match(previous)
        block = Block(line=start + 1, lang=match[1], info=match[2], text="\n".join(lines[start + 1:end]),
                      directive=directive[1] if directive else "")
        if block.lang == "json" and block.info == "variables":
            graphql = found[-1] if found else None
            assert graphql is not None, f"README line {block.line}: variables of no query"
            assert graphql.lang == "graphql", f"README line {block.line}: variables right after no ```graphql block"
            found[-1] = Block(graphql.line, graphql.lang, graphql.info, graphql.text, graphql.directive,
                              json.loads(block.text))
        else:
            found.append(block)
        i = end + 1
    return found


EXAMPLES = [b for b in blocks(README.read_text()) if b.lang == "graphql" or b.lang in SHELLS]


def test_every_example_is_run_or_skipped_with_a_reason() -> None:
    for block in EXAMPLES:
        if block.directive.startswith("skip"):
            assert re.fullmatch(r"skip \(.+\)", block.directive), f"README line {block.line}: a skip needs a reason"
        else:
            assert block.directive == "" or (block.lang == "graphql" and re.fullmatch(
                r"expect-error [A-Z_]+", block.directive)), f"README line {block.line}: {block.directive!r}"
    ran = [b for b in EXAMPLES if not b.directive.startswith("skip")]
    assert len(ran) >= 8, f"only {len(ran)} README examples would run: was the README's format changed?"


# --- against `make run` ------------------------------------------------------------------------------------------


@dataclass
class Run:
    bezel: BezelDev
    scratch: Path  # where commands run: `.venv` and what they read linked, what they write copied
    placed: dict[str, str]  # the README placeOrder's order: {"id", "token"}

    def filled(self, text: str) -> str:
        text = re.sub(r"\b(?:localhost|127\.0\.0\.1):8000\b", self.bezel.url.removeprefix("http://"), text)
        text = re.sub(r"\b(?:localhost|127\.0\.0\.1):8900\b", self.bezel.sandbox_url.removeprefix("http://"), text)
        if ORDER_ID.search(text) or "<orderToken>" in text:
            if not self.placed:
                pytest.skip("names the order the README's placeOrder example places: run the whole file")
            text = ORDER_ID.sub(self.placed["id"], text).replace("<orderToken>", self.placed["token"])
        return text


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data = tmp_path_factory.mktemp("make-run")
    scratch = tmp_path_factory.mktemp("readme-cwd")
    (scratch / ".venv").symlink_to(Path(sys.executable).parent.parent)
    for name in ("bezel.toml", "schema.graphql"):
        shutil.copy(ROOT / name, scratch / name)
    shutil.copytree(ROOT / "storefront", scratch / "storefront")
    with run_bezel_dev(data, env={"BEZEL_CONFIG": str(ROOT / "bezel.toml")}) as bezel:
        yield Run(bezel, scratch, {})


@pytest.mark.parametrize("block", EXAMPLES, ids=[b.id for b in EXAMPLES])
def test_the_readme_example_runs(block: Block, run: Run) -> None:
    if block.directive.startswith("skip"):
        pytest.skip(f"README line {block.line}: {block.directive.removeprefix('skip').strip()[1:-1]}")
    if block.lang == "graphql":
        _graphql(block, run)
    else:
        _shell(block, run)


def _graphql(block: Block, run: Run) -> None:
    query = run.filled(block.text)
    streamed = "@defer" in query or "@stream" in query
    answer = httpx.post(f"{run.bezel.url}/graphql", json={"query": query, "variables": block.variables or {}},
                        headers={"accept": ACCEPT_PARTS if streamed else "application/json"}, timeout=30)
    if streamed:
        assert answer.headers["content-type"].startswith("multipart/mixed"), answer.text[:500]
        result = merged(parts(answer.content, answer.headers["content-type"]))
    else:
        result = answer.json()
    codes = [(e.get("extensions") or {}).get("code") for e in result.get("errors") or []]
    if block.directive.startswith("expect-error"):
        assert block.directive.split()[1] in codes, f"README line {block.line}: {result}"
        return
    assert not result.get("errors"), f"README line {block.line}: {result}"
    assert answer.status_code == 200, f"README line {block.line}: {answer.status_code} {result}"
    user_errors = [e for key, value in _walk(result.get("data")) if key == "userErrors" for e in value]
    assert not user_errors, f"README line {block.line}: {user_errors}"
    placed = result["data"].get("placeOrder") or {}
    if placed.get("order"):
        run.placed.update(id=placed["order"]["id"], token=placed["orderToken"])


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _shell(block: Block, run: Run) -> None:
    script = run.filled(block.text)
    if block.lang == "console":  # `$ command` lines; the rest is output
        script = "\n".join(line[2:] for line in script.splitlines() if line.startswith("$ "))
    environment = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
                   "HOME": str(run.scratch), "REDIS_URL": run.bezel.redis_url, "LANG": "C.UTF-8"}
    result = subprocess.run(["bash", "-c", SHELL_PRELUDE + script], cwd=run.scratch, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (f"README line {block.line} exited {result.returncode}:\n{script}\n"
                                    f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")
