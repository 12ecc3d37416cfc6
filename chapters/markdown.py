"""Markdown from members, rendered to HTML that cannot carry scripts or styles."""

import threading

import markdown as markdown_lib
import nh3
from django.utils.safestring import mark_safe

ALLOWED_TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "code", "pre", "blockquote", "h3", "h4", "hr"}


# Building a Markdown converter (its parser, its patterns) costs more than converting a short
# announcement: each thread keeps one, reset between texts, as Python-Markdown allows.
_converters = threading.local()


def _converter():
    converter = getattr(_converters, "converter", None)
    if converter is None:
        converter = _converters.converter = markdown_lib.Markdown(extensions=["sane_lists"], output_format="html")
    return converter


def render_markdown(text):
    html = _converter().reset().convert(text or "")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above
