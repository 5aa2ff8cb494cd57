"""What every client test needs: node, npm and the pinned clients installed (`make clients`); without them the
tests are skipped saying so, and fail with CI=true."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

from tests.support import ROOT

CLIENTS = ROOT / "tests" / "clients"
NODE = shutil.which("node")


def _unavailable(reason: str, fix: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}: the client tests cannot run ({fix})", pytrace=False)
    pytest.skip(f"{reason}: {fix}")


@pytest.fixture(scope="module")
def node() -> str:
    if NODE is None or shutil.which("npm") is None:
        _unavailable("node or npm is not installed", "install node 20+ and npm, then run `make clients`")
    if not (CLIENTS / "node_modules" / ".package-lock.json").exists():
        _unavailable("the clients are not installed in tests/clients/node_modules", "run `make clients`")
    return NODE
