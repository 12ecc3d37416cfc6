"""Every HTTP and websocket route of Relais, found by walking the URLconfs, so that a new route is
probed (or flagged as unclassified) without anyone editing the isolation suite."""

import re
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern

URLCONFS = {"tenant": "config.urls_tenant", "public": "config.urls_public"}

ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>(?:[^()]|\([^()]*\))*)\)")
UNNAMED_GROUP = re.compile(r"\((?!\?)(?:[^()]|\([^()]*\))*\)")
WORD_ALTERNATION = re.compile(r"^[\w-]+(\|[\w-]+)*$")


@dataclass
class Route:
    urlconf: str
    route: str  # the path as written, "/app/chapters/<slug:slug>/", regex groups kept as <name>
    name: str
    parameters: list = field(default_factory=list)  # kwarg names, in order
    choices: dict = field(default_factory=dict)  # kwarg -> the literal alternatives its regex allows
    callback: object = None

    def __str__(self):
        return f"{self.urlconf}:{self.route} ({self.name})"


def _segment(pattern):
    """The pattern's text with every parameter written <name>, and the alternatives of regex groups
    that are a plain list of words (stock actions, order actions, report names)."""
    choices = {}
    if isinstance(pattern, LocalePrefixPattern):
        return pattern.language_prefix, [], choices
    if isinstance(pattern, RoutePattern):
        text = str(pattern)
        names = [m["name"] for m in ROUTE_PARAMETER.finditer(text)]
        return ROUTE_PARAMETER.sub(lambda m: f"<{m['name']}>", text), names, choices
    assert isinstance(pattern, RegexPattern), pattern
    text = pattern.regex.pattern
    names = []
    for match in REGEX_GROUP.finditer(text):
        names.append(match["name"])
        if WORD_ALTERNATION.match(match["body"]):
            choices[match["name"]] = match["body"].split("|")
    text = REGEX_GROUP.sub(lambda m: f"<{m['name']}>", text)
    unnamed = [f"_{number}" for number in range(1, len(UNNAMED_GROUP.findall(text)) + 1)]
    numbers = iter(unnamed)
    text = UNNAMED_GROUP.sub(lambda m: f"<{next(numbers)}>", text)
    names.extend(unnamed)
    text = text.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    return text.replace("\\", ""), names, choices


def _walk(patterns, urlconf, prefix, parameters, choices, namespace):
    for pattern in patterns:
        text, names, found = _segment(pattern.pattern)
        route, params, alternatives = prefix + text, parameters + names, {**choices, **found}
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, urlconf, route, params, alternatives, inner)
        else:
            assert isinstance(pattern, URLPattern)
            name = f"{namespace}{pattern.name}" if pattern.name else ""
            yield Route(urlconf, "/" + route, name, params, alternatives, pattern.callback)


def http_routes():
    """Every route of the tenant and the public URLconfs, Wagtail's and Django admin's included."""
    found = []
    for label, urlconf in URLCONFS.items():
        found.extend(_walk(get_resolver(urlconf).url_patterns, label, "", [], {}, ""))
    return found


def websocket_routes():
    from config.routing import websocket_urlpatterns

    return list(_walk(websocket_urlpatterns, "websocket", "", [], {}, ""))


def build(route, values):
    """The route's path with each parameter replaced by its value, or None when one is missing."""
    if any(name not in values for name in route.parameters):
        return None
    path = route.route
    for name in route.parameters:
        path = path.replace(f"<{name}>", values[name], 1)
    return path
