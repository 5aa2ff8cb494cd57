"""The ledger of library internals (schema/internals.py) is true and complete: its probe passes on the
versions installed and names every internal that moved, each entry is found where it is said to be
used, each library is pinned, and every private name or library hook Bezel's code reaches for is listed."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import tomllib
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

from schema.internals import LEDGER, problems, require
from tests.support import ROOT

PACKAGES = ("gateway", "schema", "resolvers", "connectors")
NAMES = {internal.name.removeprefix("self.") for internal in LEDGER}
# Underscored names that are public API all the same.
PUBLIC = {"_replace": "namedtuple's, underscored so that no field name can clash with it"}


def test_every_internal_in_the_ledger_is_there_as_bezel_uses_it() -> None:
    assert problems() == []


def test_the_probe_names_every_internal_that_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade that moves internals fails at startup naming each one, not quietly on a request."""
    from strawberry.schema.schema_converter import GraphQLCoreConverter
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    monkeypatch.delattr(GraphQLCoreConverter, "DEFINITION_BACKREF")
    monkeypatch.setattr(HttpToolsProtocol, "on_url", lambda self, url, at: None)  # a new signature
    with pytest.raises(ImportError, match="2 library internal") as raised:
        require()
    assert "DEFINITION_BACKREF" in str(raised.value)
    assert "on_url(self, url, at) was (self, url)" in str(raised.value)


def test_each_entry_is_found_where_the_ledger_says_it_is_used() -> None:
    """So the ledger cannot go stale silently: remove the last use of an internal, remove its entry."""
    missing = [f"{internal.name} in {path}" for internal in LEDGER for path in internal.used_in
               if internal.name not in (ROOT / path).read_text()]
    assert missing == []


def test_each_library_reached_into_is_pinned_to_the_version_tested_with_its_reason() -> None:
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    dependencies = tomllib.loads("\n".join(lines))["project"]["dependencies"]
    for library in {internal.library for internal in LEDGER}:
        requirement = next(Requirement(d) for d in dependencies if Requirement(d).name == library)
        assert requirement.specifier.contains(version(library)), f"{library} {version(library)} not in its pin"
        assert any(s.operator in ("<", "==", "~=") for s in requirement.specifier), f"{library} has no upper bound"
        at = next(i for i, line in enumerate(lines) if line.strip().startswith(f'"{library}'))
        assert lines[at - 1].strip().startswith("#"), f"{library}'s pin has no reason beside it"


def _sources() -> dict[str, ast.Module]:
    return {str(path.relative_to(ROOT)): ast.parse(path.read_text())
            for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_every_private_name_bezel_reaches_for_is_in_the_ledger() -> None:
    """A private attribute or keyword that Bezel's classes do not define themselves, and any private
    method they define that Bezel's code never calls (a library calls it: a hook), must be listed.
    (Bezel's own: a method or class attribute of one of its classes, assigned on self or cls, or named
    `_bezel...`.)"""
    ours, used, referenced, hooks = set(), [], set(), []
    for path, tree in _sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                ours.update(_class_members(node))
                if node.bases:
                    hooks += [(f.name, f"{path}:{f.lineno}") for f in node.body
                              if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) and _private(f.name)
                              and not f.decorator_list]
            elif isinstance(node, ast.Attribute):
                referenced.add(node.attr)
                if isinstance(node.ctx, ast.Store) and (getattr(node.value, "id", None) in {"self", "cls"}
                                                        or node.attr.startswith("_bezel")):
                    ours.add(node.attr)
                elif _private(node.attr):
                    used.append((node.attr, f"{path}:{node.lineno}"))
            elif isinstance(node, ast.keyword) and node.arg and _private(node.arg):
                used.append((node.arg, f"{path}:{node.lineno}"))
    unlisted = sorted({f"{name} ({where})" for name, where in used if name not in ours | NAMES | PUBLIC.keys()}
                      | {f"{name} ({where}, called by a library)" for name, where in hooks
                         if name not in referenced | NAMES})
    assert unlisted == [], "library internals missing from schema/internals.py: " + ", ".join(unlisted)


def _class_members(node: ast.ClassDef) -> set[str]:
    members = {node.name}
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            members.add(item.name)
        elif isinstance(item, ast.Assign):
            members.update(t.id for t in item.targets if isinstance(t, ast.Name))
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            members.add(item.target.id)
    return members


def _modules(*names: str) -> list[ModuleType]:
    found = []
    for name in names:
        module = importlib.import_module(name)
        found.append(module)
        if hasattr(module, "__path__"):
            found += [importlib.import_module(f"{name}.{m.name}") for m in pkgutil.iter_modules(module.__path__)]
    return found


def _ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in PACKAGES


@pytest.mark.parametrize("module", _modules("schema.fastpath", "schema.bounds", "gateway.edge.protocol"),
                         ids=lambda m: m.__name__)
def test_every_library_member_the_shortcuts_override_or_shadow_is_in_the_ledger(module: ModuleType) -> None:
    """The fast path, the execution bounds and the header guard subclass library classes: each method
    they override is a hook into the library, and an attribute they set on `self` that the library
    sets too would silently break it."""
    found = []
    for cls in vars(module).values():
        if not inspect.isclass(cls) or cls.__module__ != module.__name__:
            continue
        libraries = [base for base in cls.__mro__[1:] if not _ours(base) and base is not object]
        for name in vars(cls):
            if not name.startswith("__") and name not in NAMES and any(name in vars(b) for b in libraries):
                found.append(f"{cls.__name__}.{name} overrides the library's")
        assigned = _self_assigned(inspect.getsource(cls))
        for base in libraries:
            try:
                theirs = _self_assigned(inspect.getsource(base))
            except (OSError, TypeError):
                continue
            found += [f"{cls.__name__}.{name} shadows {base.__name__}'s" for name in assigned & theirs
                      if name not in NAMES]
    assert found == []


def _self_assigned(source: str) -> set[str]:
    tree = ast.parse(inspect.cleandoc("\n" + source) if source.startswith(" ") else source)
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store) and getattr(node.value, "id", None) == "self"}


def test_the_internals_module_imports_nothing_of_bezel() -> None:
    """It is probed first, from `schema` and from the gateway alike: a leaf."""
    tree = ast.parse(Path(ROOT / "schema" / "internals.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & set(PACKAGES)
