"""Dependencies point one way (ARCHITECTURE.md §2), read from the code itself.

Every module of every one of our packages is parsed (imports inside functions included, since a
deferred import is still a dependency) and each import of another of our packages is checked
against the layers:

    config, operations ──► every app        (the top; only config, tests and bench import operations)
    tenants ──► chapters, accounts           (the platform product)
    chat, shop, cms, … ──► people ──► chapters ──► accounts
    every app ──► tenancy                    (the bottom: it imports none of our apps)
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TOP = {"config", "operations"}
PLATFORM = {"tenants"}
FEATURES = {"chat", "shop", "cms", "mailings", "events", "calls"}
CORE = {"people", "chapters", "accounts"}  # people ──► chapters ──► accounts
BOTTOM = {"tenancy"}
TOOLS = {"tests", "bench"}
OURS = TOP | PLATFORM | FEATURES | CORE | BOTTOM | TOOLS
APPS = PLATFORM | FEATURES | CORE | BOTTOM

# (who, what it must not import, the rule in words). Packages that do not exist yet
# (people, mailings, events, calls) are placed already, so a new app is checked from its first line.
RULES = [
    (BOTTOM, OURS - BOTTOM, "tenancy imports none of our packages"),
    (CORE, FEATURES | PLATFORM | {"operations"}, "the core imports no feature app, nor tenants or operations"),
    ({"chapters", "accounts"}, {"people"}, "people ──► chapters ──► accounts, never back"),
    ({"accounts"}, {"chapters"}, "people ──► chapters ──► accounts, never back"),
    (PLATFORM, OURS - PLATFORM - BOTTOM - {"accounts", "chapters"}, "tenants imports only tenancy, accounts, chapters"),
    (FEATURES, FEATURES | PLATFORM | {"operations"}, "feature apps import neither each other, tenants nor operations"),
    (OURS - TOP - TOOLS, {"operations"}, "only config, tests and bench import operations"),
    (APPS, {"config", "tests", "bench"}, "no app imports config, tests or bench, which sit above every app"),
]


def imported_modules(source, module):
    """(line, absolute module name) of every import in `source`, at any depth, for the module
    named `module` (dotted, to resolve relative imports)."""
    package = module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module
            yield node.lineno, name


def our_modules():
    for package in sorted(OURS):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            module = ".".join(relative.with_suffix("").parts)
            yield relative, module, path.read_text()


def violations():
    found = []
    for relative, module, source in our_modules():
        importer = module.split(".")[0]
        for line, name in imported_modules(source, module):
            imported = name.split(".")[0]
            if imported not in OURS or imported == importer:
                continue
            for importers, forbidden, rule in RULES:
                if importer in importers and imported in forbidden:
                    found.append(f"{relative}:{line} imports {name}: {rule}")
                    break
    return found


def test_dependencies_point_one_way():
    found = violations()
    assert not found, "Imports against the layering (ARCHITECTURE.md §2):\n" + "\n".join(found)


def test_every_package_of_ours_has_a_layer():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert packages - OURS == set(), "place the new package in a layer of tests/test_layering.py"


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("import chat.models", "shop.views", ["chat.models"]),
        ("from cms.services import site_setup", "tenants.services", ["cms.services"]),
        ("def f():\n    if True:\n        from shop import models", "chat.tasks", ["shop"]),
        ("from . import signals", "chapters.services", ["chapters"]),
        ("from ..commands import migrate", "tenancy.management.commands.db_worker", ["tenancy.management.commands"]),
    ],
)
def test_the_parser_sees_every_kind_of_import(source, module, expected):
    assert [name for _line, name in imported_modules(source, module)] == expected


def test_the_rules_catch_an_import_against_the_layers():
    def broken(importer, imported):
        return any(importer in who and imported in forbidden for who, forbidden, _rule in RULES)

    assert broken("tenancy", "tenants")
    assert broken("chapters", "chat")
    assert broken("tenants", "cms")
    assert broken("shop", "chat")
    assert broken("cms", "tenants")
    assert broken("accounts", "operations")
    assert not broken("chat", "chapters")
    assert not broken("tenants", "accounts")
    assert not broken("config", "operations")
    assert not broken("shop", "tenancy")
