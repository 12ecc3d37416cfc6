"""The isolation suite's fixtures (shared with the fuzz suite, tests/fuzz/conftest.py) and its table."""

import sys

from tests.security.fixtures import data  # noqa: F401 - alpha with an object of every kind


def pytest_terminal_summary(terminalreporter):
    """Routes covered, probes made, leaks found: printed at the end of any run of the suite."""
    suite = sys.modules.get("tests.security.test_isolation")
    if suite is None or not suite.TALLY["probes"]:
        return
    tally = suite.TALLY
    rows = [
        ("routes found (HTTP + websocket)", tally["routes"]),
        ("routes classified", tally["classified"]),
        ("routes probed", len(tally["probed"])),
        ("probes made", tally["probes"]),
        ("leaks found", len(tally["leaks"])),
    ]
    terminalreporter.section("Tenant isolation")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        terminalreporter.write_line(f"{label:<{width}}  {value:>6}")
    if terminalreporter.config.option.verbose > 0:  # with -v: which, and why (paths_for, NOT_PROBED)
        for route in tally.get("unprobed", []):
            terminalreporter.write_line(f"not probed: {route}")
    for leak in tally["leaks"]:
        terminalreporter.write_line(f"leak: {leak}")
