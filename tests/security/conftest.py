"""The isolation and chapter-scope suites' fixtures (shared with the fuzz suite,
tests/fuzz/conftest.py) and their tables."""

import sys

from tests.security.fixtures import data  # noqa: F401 - alpha with an object of every kind
from tests.security.scope_fixtures import scope  # noqa: F401 - Lille's objects and the people around it

# Each suite's module, the title of its table, and its rows: (label, key of its TALLY).
TABLES = [
    (
        "tests.security.test_isolation",
        "Tenant isolation",
        [
            ("routes found (HTTP + websocket)", "routes"),
            ("routes classified", "classified"),
            ("routes probed", "probed"),
            ("probes made", "probes"),
            ("leaks found", "leaks"),
        ],
    ),
    (
        "tests.security.test_chapter_scope",
        "Chapter scope",
        [
            ("routes found (organisations' URLconf + websocket)", "routes"),
            ("routes given a scope class", "classified"),
            ("routes probed", "probed"),
            ("chat frames sent", "frames"),
            ("probes made", "probes"),
            ("leaks found", "leaks"),
        ],
    ),
]


def pytest_terminal_summary(terminalreporter):
    """Routes covered, probes made, leaks found: printed at the end of any run of either suite."""
    for module, title, rows in TABLES:
        suite = sys.modules.get(module)
        if suite is None or not suite.TALLY["probes"]:
            continue
        tally = suite.TALLY
        terminalreporter.section(title)
        width = max(len(label) for label, _key in rows)
        for label, key in rows:
            value = tally[key]
            count = len(value) if isinstance(value, set | list) else value
            terminalreporter.write_line(f"{label:<{width}}  {count:>6}")
        if terminalreporter.config.option.verbose > 0:  # with -v: what was not probed, and why
            for route in tally.get("unprobed", []):
                terminalreporter.write_line(f"not probed: {route}")
        for leak in tally["leaks"]:
            terminalreporter.write_line(f"leak: {leak}")
