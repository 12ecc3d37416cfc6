"""Panels that other apps add to the member's home, without the core importing them.

An app registers `render(request)` from its AppConfig.ready(); it returns the panel's HTML, or None
when the panel is not for this person. The home shows them in the order of registration.
"""

PANELS = {}


def register(name, render):
    PANELS[name] = render


def rendered(request):
    return [html for html in (render(request) for render in PANELS.values()) if html]
