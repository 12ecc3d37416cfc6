"""The isolation and chapter-scope suites' fixtures (shared with the fuzz suite,
tests/fuzz/conftest.py) and their tables."""

import sys

from tests.security.fixtures import data  # noqa: F401 - alpha with an object of every kind
from tests.security.scope_fixtures import scope  # noqa: F401 - Lille's objects and the people around it


def _table(terminalreporter, title, rows):
    terminalreporter.section(title)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        terminalreporter.write_line(f"{label:<{width}}  {value:>6}")


def pytest_terminal_summary(terminalreporter):
    """Routes covered, probes made, leaks found: printed at the end of any run of either suite."""
    isolation = sys.modules.get("tests.security.test_isolation")
    if isolation is not None and isolation.TALLY["probes"]:
        tally = isolation.TALLY
        _table(
            terminalreporter,
            "Tenant isolation",
            [
                ("routes found (HTTP + websocket)", tally["routes"]),
                ("routes classified", tally["classified"]),
                ("routes probed", len(tally["probed"])),
                ("probes made", tally["probes"]),
                ("leaks found", len(tally["leaks"])),
            ],
        )
        if terminalreporter.config.option.verbose > 0:  # with -v: which, and why (paths_for, NOT_PROBED)
            for route in tally.get("unprobed", []):
                terminalreporter.write_line(f"not probed: {route}")
        for leak in tally["leaks"]:
            terminalreporter.write_line(f"leak: {leak}")
    chapter_scope = sys.modules.get("tests.security.test_chapter_scope")
    if chapter_scope is not None and chapter_scope.TALLY["probes"]:
        tally = chapter_scope.TALLY
        _table(
            terminalreporter,
            "Chapter scope",
            [
                ("routes found (organisations' URLconf + websocket)", tally["routes"]),
                ("routes given a scope class", tally["classified"]),
                ("routes probed", len(tally["probed"])),
                ("chat frames sent", tally["frames"]),
                ("probes made", tally["probes"]),
                ("leaks found", len(tally["leaks"])),
            ],
        )
        for leak in tally["leaks"]:
            terminalreporter.write_line(f"leak: {leak}")
