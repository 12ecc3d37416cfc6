"""Hostile input for every form, JSON endpoint and websocket frame type (issue 7, item 2).

Hypothesis settings come from one of three profiles, chosen with RELAIS_FUZZ_PROFILE:
``fuzz`` (the default: a few examples per route, the suite stays fast), ``ci`` (the same counts,
derandomized so that a CI run is reproducible; chosen by default when the CI variable is set) and
``deep`` (many more examples, for a run by hand). RELAIS_FUZZ_EXAMPLES=n sets the examples per
form of any profile; the other kinds scale from it. No example database is kept: a failure prints
its falsifying example, which then becomes an explicit ``@example`` regression.

The number of examples run per kind is printed at the end of the session."""

import os

from hypothesis import HealthCheck, settings

from tests.security.fixtures import data  # noqa: F401 - alpha with an object of every kind

# The committed data the consumers' own tests set up, reused by the websocket fuzzing.
from tests.test_chat_consumer import chat_people  # noqa: F401
from tests.test_cms_counter import committed_petition  # noqa: F401

COMMON = {
    "deadline": None,
    "database": None,
    "print_blob": False,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
}
# max_examples is the number of generated examples per form; the other kinds scale from it
# (examples()). Each route and frame type also gets the sweeps of strategies.py, whatever the profile.
settings.register_profile("fuzz", max_examples=3, **COMMON)
settings.register_profile("ci", max_examples=3, derandomize=True, **COMMON)
settings.register_profile("deep", max_examples=100, **COMMON)


def profile():
    name = os.environ.get("RELAIS_FUZZ_PROFILE") or ("ci" if os.environ.get("CI") else "fuzz")
    if os.environ.get("RELAIS_FUZZ_EXAMPLES"):  # any other count, for a longer run by hand
        return settings(settings.get_profile(name), max_examples=int(os.environ["RELAIS_FUZZ_EXAMPLES"]))
    return settings.get_profile(name)


# Cheap kinds get more: a JSON endpoint is few and fast, a websocket frame faster still; a form
# with no field to vary (a button, a page that ignores its body) gets the fewest.
SCALE = {"form": 1, "button": 1 / 3, "json": 2, "json-garbage": 1, "frame": 4}


def examples(kind):
    return max(1, round(profile().max_examples * SCALE[kind]))


# Examples run, by kind; printed by pytest_terminal_summary below.
EXAMPLES = {"forms": 0, "JSON": 0, "websocket": 0}
ROUTES = {"forms": set(), "JSON": set(), "websocket": set()}


def pytest_terminal_summary(terminalreporter):
    if not any(EXAMPLES.values()):
        return
    terminalreporter.section("Fuzz examples (hostile input)")
    for kind, count in EXAMPLES.items():
        terminalreporter.write_line(f"{kind:<10} {count:>6} examples over {len(ROUTES[kind]):>3} routes or frame types")
    terminalreporter.write_line(f"{'total':<10} {sum(EXAMPLES.values()):>6} examples")
