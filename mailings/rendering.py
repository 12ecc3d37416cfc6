"""A mailing turned into the messages its recipients get.

Everything that is the same for every recipient is done once, by `compile_mailing`: validation,
markdown, sanitising, the layout, the footer in the mailing's language. What is left for each
recipient is filling the holes the tokens left ({first_name}, the unsubscribe link): one
`str.format` per part, because a mailing goes to up to 100,000 people at over 1,000 messages a
second, sending included.

    compiled = compile_mailing(subject=…, preview_text=…, blocks=…, language="fr", look=look_for(site),
                               purpose_label=Purpose.NEWS.label)
    message = compiled.render({"first_name": "Camille", …, "unsubscribe_url": …, "preferences_url": …})
"""

import re
import secrets
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from urllib.parse import quote, urljoin

import markdown as markdown_lib
import nh3
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext as _
from wagtail.models import Site

from chapters.services import InvalidAction
from people.models import Purpose

TOKENS = ("first_name", "last_name", "full_name", "email", "commune", "postcode")
FOOTER_LINKS = ("unsubscribe_url", "preferences_url")

MAX_BLOCKS = 50
MAX_MARKDOWN = 10_000
# Python-Markdown's link pattern takes time quadratic in the brackets left open in a paragraph
# (10,000 "[" take seconds): more than any real text has, fewer than it takes to hurt.
MAX_BRACKETS = 300
MAX_LABEL = 80
MAX_ALT = 250

TOKEN = re.compile(r'\{(?P<name>[a-z_]+)(?:\|"(?P<fallback>[^"{}\n]*)")?\}')
# What an author meant as a token, well written or not; other braces are text ({ }, {"a": 1}).
MEANT_AS_TOKEN = re.compile(r"\{\s*(?P<name>[A-Za-z_]\w*)\s*(?:\|[^{}\n]*)?\}")

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
PRIMARY = "#b3261e"  # the defaults of the organisation's site settings
ACCENT = "#1d3557"
INK = "#1b1f27"
MUTED = "#5f6368"
PAGE = "#f4f4f5"
RULE = "#e4e4e7"
FONT = "Helvetica, Arial, sans-serif"
DIVIDER = "-" * 40
WHITESPACE = re.compile(r"\s+")

MARKDOWN_TAGS = {"p", "br", "strong", "em", "b", "i", "a", "ul", "ol", "li", "h1", "h2", "h3", "blockquote", "hr"}

_web_address = URLValidator(schemes=["http", "https"])


# The organisation's look ----------------------------------------------------------------------


@dataclass(frozen=True)
class Look:
    """How the organisation's mail looks: its name, its logo (an absolute URL) and its colours."""

    name: str
    logo_url: str | None = None
    primary_colour: str = PRIMARY
    accent_colour: str = ACCENT


def look_for(request_or_site=None):
    """The look of the current organisation's site: the request's site, the site given, or the
    default site of the current schema (a worker has no request). Defaults when nothing is set."""
    request = None
    if isinstance(request_or_site, Site) or request_or_site is None:
        site = request_or_site or Site.objects.filter(is_default_site=True).first()
    else:
        request, site = request_or_site, Site.find_for_request(request_or_site)
    name = (site.site_name if site else "") or getattr(connection.tenant, "name", "") or "Relais"
    if site is None:
        return Look(name=name)
    # Feature apps do not import each other (ARCHITECTURE.md §2): the site settings are named, as
    # templates name them (settings.cms.OrganisationSettings).
    organisation_settings = apps.get_model("cms", "OrganisationSettings")
    found = organisation_settings.objects.select_related("logo").filter(site=site).first()
    if found is None:
        return Look(name=name)
    return Look(
        name=name,
        logo_url=_logo_url(found.logo, site, request),
        primary_colour=_colour_or(found.primary_colour, PRIMARY),
        accent_colour=_colour_or(found.accent_colour, ACCENT),
    )


def _logo_url(logo, site, request):
    if logo is None:
        return None
    try:
        url = logo.get_rendition("height-120").url  # shown 60 pixels high: sharp on dense screens
    except OSError:  # the file is missing or unreadable: the name stands in for the logo
        return None
    return request.build_absolute_uri(url) if request is not None else urljoin(site.root_url, url)


def _colour_or(value, default):
    return value if isinstance(value, str) and HEX_COLOUR.match(value) else default


# The same contrast rules as the site's theme (cms_tags.ink_on, ink_or).
def _luminance(colour):
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _ink_on(background):
    """Black or white, whichever reads better on the background."""
    luminance = _luminance(background)
    return "#ffffff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 else "#111111"


def _readable_or(colour, fallback):
    """The colour if text in it reads on white (WCAG AA), else the fallback."""
    return colour if 1.05 / (_luminance(colour) + 0.05) >= 4.5 else fallback


# Validation -------------------------------------------------------------------------------


def validate_tokens(text, where=None):
    """Refuse tokens we do not know ({prenom}) or that are badly written ({first_name|Hello}),
    naming the place (`where`, e.g. "Subject") in the message. Returns the text."""
    for match in MEANT_AS_TOKEN.finditer(text):
        name = match["name"]
        if name not in TOKENS:
            known = ", ".join("{" + token + "}" for token in TOKENS)
            problem = _("{%(name)s} is not a field we know; the fields are %(known)s.") % {
                "name": name,
                "known": known,
            }
        elif not TOKEN.fullmatch(match[0]):
            problem = _('write a field as {%(name)s}, or {%(name)s|"…"} with what to write when it is empty.') % {
                "name": name
            }
        else:
            continue
        raise InvalidAction(_("%(where)s: %(problem)s") % {"where": where, "problem": problem} if where else problem)
    return text


def validate_blocks(blocks):
    """The mailing's body, cleaned (only the known fields of each block, stripped), or
    InvalidAction naming the first block at fault. Whatever `blocks` is."""
    if not isinstance(blocks, list):
        raise InvalidAction(_("The body of a mailing is a list of blocks."))
    if len(blocks) > MAX_BLOCKS:
        raise InvalidAction(_("A mailing holds %(max)s blocks at most.") % {"max": MAX_BLOCKS})
    cleaned = []
    for number, block in enumerate(blocks, start=1):
        kind = block.get("type") if isinstance(block, dict) else None
        if not isinstance(kind, str) or kind not in CLEANERS:
            _refuse(number, _("a block is a text, an image, a button or a divider."))
        cleaned.append(CLEANERS[kind](block, number))
    return cleaned


def _refuse(number, problem):
    raise InvalidAction(_("Block %(number)s: %(problem)s") % {"number": number, "problem": problem})


def _readable(value):
    """Text that can be written in a message (a lone surrogate from JSON cannot be encoded)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _text_field(block, key, number, *, missing, too_long, limit, required=True):
    value = block.get(key, "")
    if value is None and not required:
        value = ""
    if not isinstance(value, str) or not _readable(value) or (required and not value.strip()):
        _refuse(number, missing)
    if len(value) > limit:
        _refuse(number, too_long % {"max": limit})
    return value.strip()


def _url_field(block, key, number, *, missing, invalid, required=True):
    value = block.get(key) or ""
    if not value and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or not _readable(value):
        _refuse(number, missing)
    try:
        _web_address(value.strip())
    except ValidationError:
        _refuse(number, invalid)
    return value.strip()


def _clean_text(block, number):
    text = _text_field(
        block,
        "markdown",
        number,
        missing=_("a text block needs some text."),
        too_long=_("a text block holds %(max)s characters at most."),
        limit=MAX_MARKDOWN,
    )
    if text.count("[") > MAX_BRACKETS:
        _refuse(number, _("a text block holds %(max)s “[” at most, the signs that open links.") % {"max": MAX_BRACKETS})
    validate_tokens(text, where=_("Block %(number)s") % {"number": number})
    if _sanitised_markdown(text) is None:
        _refuse(number, _("this text is nested too deeply to be read."))
    return {"type": "text", "markdown": text}


def _clean_image(block, number):
    src = _url_field(
        block,
        "src",
        number,
        missing=_("an image needs the address of its picture."),
        invalid=_("an image's address must be a web address, starting with https://."),
    )
    alt = _text_field(
        block,
        "alt",
        number,
        missing=_("an image's description must be text."),
        too_long=_("an image's description holds %(max)s characters at most."),
        limit=MAX_ALT,
        required=False,
    )
    href = _url_field(
        block,
        "href",
        number,
        missing=_("an image's link must be a web address, starting with https://."),
        invalid=_("an image's link must be a web address, starting with https://."),
        required=False,
    )
    return {"type": "image", "src": src, "alt": " ".join(alt.split()), "href": href}


def _clean_button(block, number):
    label = _text_field(
        block,
        "label",
        number,
        missing=_("a button needs a label."),
        too_long=_("a button's label holds %(max)s characters at most."),
        limit=MAX_LABEL,
    )
    validate_tokens(label, where=_("Block %(number)s") % {"number": number})
    href = _url_field(
        block,
        "href",
        number,
        missing=_("a button needs a link."),
        invalid=_("a button's link must be a web address, starting with https://."),
    )
    return {"type": "button", "label": " ".join(label.split()), "href": href}


def _clean_divider(block, number):
    return {"type": "divider"}


CLEANERS = {"text": _clean_text, "image": _clean_image, "button": _clean_button, "divider": _clean_divider}


def _sanitised_markdown(text):
    """Markdown as HTML that can carry no script, style or attribute but a link's href; None if
    the text nests too deeply for the converter (it recurses once per level)."""
    try:
        converted = markdown_lib.markdown(text, extensions=["sane_lists", "nl2br"], output_format="html")
    except RecursionError:
        return None
    return nh3.clean(
        converted,
        tags=MARKDOWN_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
    )


# Compiling ---------------------------------------------------------------------------------

TEXT, HTML, URL = "text", "html", "url"
ENCODERS = {TEXT: str, HTML: escape, URL: lambda value: quote(value, safe="")}


class _Holes:
    """Where the tokens go while the message is built around them: each token becomes a word that
    markdown and the sanitiser leave alone (letters and digits, with a random part no author can
    type), and each part of the message becomes a template with holes at those words."""

    def __init__(self):
        self.marker = "x" + secrets.token_hex(8)
        self.tokens = []  # (name, fallback) per hole
        self.pattern = re.compile(rf"{self.marker}(?P<url>u?)(?P<index>\d+){self.marker}")

    def hole(self, name, fallback=""):
        self.tokens.append((name, fallback))
        return f"{self.marker}{len(self.tokens) - 1}{self.marker}"

    def punch(self, text):
        return TOKEN.sub(lambda match: self.hole(match["name"], match["fallback"] or ""), text)

    def in_attributes_as_urls(self, html):
        """Holes inside a tag can only be in a link's href: the value goes there URL-quoted, so
        that a name cannot become a link of its own (javascript:…). The sanitiser writes ">" in
        an attribute as "&gt;", so a tag ends at the first ">"."""
        as_url = rf"{self.marker}u\g<index>{self.marker}"
        return re.sub(r"<[^>]*>", lambda tag: self.pattern.sub(as_url, tag[0]), html)

    def template(self, source, kind):
        """The source as a format string, its own braces doubled, one field per hole."""
        pieces, slots, end = [], [], 0
        for match in self.pattern.finditer(source):
            pieces.append(_literal(source[end : match.start()]))
            name, fallback = self.tokens[int(match["index"])]
            slot_kind = URL if match["url"] else kind
            pieces.append(f"{{{len(slots)}}}")
            slots.append((slot_kind, name, ENCODERS[slot_kind](fallback)))
            end = match.end()
        pieces.append(_literal(source[end:]))
        return _Template("".join(pieces), tuple(slots))


def _literal(text):
    return text.replace("{", "{{").replace("}", "}}")


@dataclass(frozen=True)
class _Template:
    format: str
    slots: tuple  # (kind, token, fallback already encoded for that kind) per field, in order

    def fill(self, encoded):
        return self.format.format(*[encoded[kind][name] or fallback for kind, name, fallback in self.slots])


@dataclass(frozen=True)
class Message:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class Compiled:
    """A mailing ready to be rendered for each recipient."""

    subject: _Template
    html: _Template
    text: _Template

    def render(self, values):
        """The message of one recipient. `values`: the tokens' values (missing or empty ones take
        their fallback) and the recipient's `unsubscribe_url` and `preferences_url` (required)."""
        plain = {name: " ".join(str(values.get(name) or "").split()) for name in TOKENS}
        plain.update((name, values[name]) for name in FOOTER_LINKS)
        encoded = {
            TEXT: plain,
            HTML: {name: escape(value) for name, value in plain.items()},
            URL: {name: quote(value, safe="") for name, value in plain.items()},
        }
        return Message(subject=self.subject.fill(encoded), html=self.html.fill(encoded), text=self.text.fill(encoded))


@dataclass(frozen=True)
class _Colours:
    primary: str
    on_primary: str
    accent: str
    link: str
    heading: str  # the organisation's name in the header, when it has no logo

    @classmethod
    def of(cls, look):
        primary, accent = _colour_or(look.primary_colour, PRIMARY), _colour_or(look.accent_colour, ACCENT)
        return cls(
            primary=primary,
            on_primary=_ink_on(primary),
            accent=accent,
            link=_readable_or(accent, INK),
            heading=_readable_or(primary, INK),
        )


def compile_mailing(*, subject, preview_text, blocks, language, look, purpose_label):
    """Everything about a mailing that is the same for every recipient, done once. Raises
    InvalidAction if the blocks or the tokens of the subject or preview text are not valid.
    `purpose_label` may be lazy: it is written in the mailing's language."""
    blocks = validate_blocks(blocks)
    validate_tokens(subject, where=_("Subject"))
    validate_tokens(preview_text, where=_("Preview text"))
    holes, colours = _Holes(), _Colours.of(look)
    subject = holes.punch(" ".join(subject.split()))
    preview_text = holes.punch(" ".join(preview_text.split()))
    urls = holes.hole("unsubscribe_url"), holes.hole("preferences_url")
    with translation.override(language):
        parts = [BLOCKS[block["type"]](block, holes, colours) for block in blocks]
        footer_html, footer_text = _footer(look, purpose_label, *urls)
    html = _html_document(
        subject=subject,
        preview_text=preview_text,
        body="".join(html for html, _text in parts),
        footer=footer_html,
        look=look,
        colours=colours,
        language=language,
    )
    text = "\n\n".join([*(text for _html, text in parts if text), footer_text])
    return Compiled(
        subject=holes.template(subject, TEXT), html=holes.template(html, HTML), text=holes.template(text, TEXT)
    )


def preview(mailing, look):
    """The mailing as a sample recipient would get it, with links that go nowhere, for a preview
    page. Raises InvalidAction if its content is not valid."""
    purposes = dict(Purpose.choices)
    compiled = compile_mailing(
        subject=mailing.subject,
        preview_text=mailing.preview_text,
        blocks=mailing.blocks,
        language=mailing.language,
        look=look,
        purpose_label=purposes.get(mailing.purpose, mailing.purpose),
    )
    return compiled.render(SAMPLE_VALUES | {"unsubscribe_url": "#", "preferences_url": "#"})


SAMPLE_VALUES = {
    "first_name": "Camille",
    "last_name": "Martin",
    "full_name": "Camille Martin",
    "email": "camille.martin@example.org",
    "commune": "Lyon",
    "postcode": "69001",
}


# The blocks, each as (HTML, plain text) with holes ------------------------------------------

TEXT_STYLES = {
    "p": "margin:0 0 16px;",
    "h1": "margin:0 0 16px;font-size:26px;line-height:1.25;",
    "h2": "margin:0 0 12px;font-size:21px;line-height:1.3;",
    "h3": "margin:0 0 12px;font-size:18px;line-height:1.3;",
    "ul": "margin:0 0 16px;padding-left:24px;",
    "ol": "margin:0 0 16px;padding-left:24px;",
    "li": "margin:0 0 6px;",
    "blockquote": f"margin:0 0 16px;padding-left:16px;border-left:4px solid {{accent}};color:{MUTED};",
    "hr": f"border:0;border-top:1px solid {RULE};margin:24px 0;",
}
STYLED_TAG = re.compile(f"<({'|'.join(TEXT_STYLES)})>")


def _text_block(block, holes, colours):
    html = holes.in_attributes_as_urls(_sanitised_markdown(holes.punch(block["markdown"])))
    text = _PlainText.of(html)
    # Many mail clients ignore <style>: every tag carries its own.
    styled = STYLED_TAG.sub(lambda tag: f'<{tag[1]} style="{TEXT_STYLES[tag[1]].format(accent=colours.accent)}">', html)
    styled = styled.replace("<a ", f'<a style="color:{colours.link};text-decoration:underline;" ')
    return f"<div>{styled}</div>", text


def _image_block(block, holes, colours):
    image = (
        f'<img src="{escape(block["src"])}" alt="{escape(block["alt"])}" width="552" '
        'style="display:block;width:100%;max-width:552px;height:auto;border:0;">'
    )
    if block["href"]:
        image = f'<a href="{escape(block["href"])}">{image}</a>'
        text = f"{block['alt']} ({block['href']})" if block["alt"] else block["href"]
    else:
        text = block["alt"]
    return f'<div style="margin:0 0 16px;">{image}</div>', text


def _button_block(block, holes, colours):
    label = holes.punch(block["label"])
    html = (
        '<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:8px 0 24px;"><tr>'
        f'<td style="border-radius:4px;background-color:{colours.primary};">'
        f'<a href="{escape(block["href"])}" style="display:inline-block;padding:12px 24px;font-weight:bold;'
        f'color:{colours.on_primary};text-decoration:none;border-radius:4px;">{escape(label)}</a>'
        "</td></tr></table>"
    )
    return html, _("%(label)s: %(url)s") % {"label": label, "url": block["href"]}


def _divider_block(block, holes, colours):
    return f'<hr style="{TEXT_STYLES["hr"]}">', DIVIDER


BLOCKS = {"text": _text_block, "image": _image_block, "button": _button_block, "divider": _divider_block}


def _footer(look, purpose_label, unsubscribe_url, preferences_url):
    """Who sends it, why the person gets it, and how to stop: (HTML, plain text)."""
    why = _("You receive this because you agreed to hear from %(organisation)s about %(purpose)s.") % {
        "organisation": look.name,
        "purpose": str(purpose_label),
    }
    unsubscribe, preferences = _("Unsubscribe"), _("Change what you receive")
    link = f"color:{MUTED};text-decoration:underline;"
    html = (
        f'<p style="margin:0 0 8px;font-weight:bold;">{escape(look.name)}</p>\n'
        f'<p style="margin:0 0 8px;">{escape(why)}</p>\n'
        f'<p style="margin:0;"><a href="{unsubscribe_url}" style="{link}">{escape(unsubscribe)}</a> &middot; '
        f'<a href="{preferences_url}" style="{link}">{escape(preferences)}</a></p>'
    )
    lines = [
        "-- ",
        look.name,
        why,
        _("%(label)s: %(url)s") % {"label": unsubscribe, "url": unsubscribe_url},
        _("%(label)s: %(url)s") % {"label": preferences, "url": preferences_url},
    ]
    return html, "\n".join(lines)


def _html_document(*, subject, preview_text, body, footer, look, colours, language):
    """Tables and inline styles, as mail clients need; 600 pixels wide at most, narrower on a phone."""
    if look.logo_url:
        header = (
            f'<img src="{escape(look.logo_url)}" alt="{escape(look.name)}" height="60" '
            'style="display:block;height:60px;width:auto;border:0;">'
        )
    else:
        header = f'<span style="font-size:22px;font-weight:bold;color:{colours.heading};">{escape(look.name)}</span>'
    # After the preview text, invisible characters keep inboxes from showing the start of the body.
    hidden = (
        '<span style="display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;mso-hide:all;'
        f'font-size:1px;line-height:1px;color:{PAGE};">{escape(preview_text)}{"&#847;&zwnj;&nbsp;" * 60}</span>'
        if preview_text
        else ""
    )
    table = 'role="presentation" cellpadding="0" cellspacing="0" border="0"'
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="x-apple-disable-message-reformatting">\n'
        f"<title>{escape(subject)}</title>\n</head>\n"
        f'<body style="margin:0;padding:0;background-color:{PAGE};">{hidden}\n'
        f'<table {table} width="100%" style="background-color:{PAGE};">'
        '<tr><td align="center" style="padding:24px 12px;">\n'
        # Outlook for Windows ignores max-width: a fixed table holds it to 600 pixels.
        f'<!--[if mso]><table {table} width="600"><tr><td><![endif]-->\n'
        f'<table {table} width="100%" style="max-width:600px;background-color:#ffffff;">\n'
        f'<tr><td style="padding:20px 24px;border-top:4px solid {colours.primary};">{header}</td></tr>\n'
        f'<tr><td style="padding:8px 24px 16px;font-family:{FONT};font-size:16px;line-height:1.5;color:{INK};">'
        f"{body}</td></tr>\n"
        f'<tr><td style="padding:20px 24px;border-top:1px solid {RULE};font-family:{FONT};font-size:13px;'
        f'line-height:1.5;color:{MUTED};">\n{footer}\n</td></tr>\n'
        "</table>\n<!--[if mso]></td></tr></table><![endif]-->\n"
        "</td></tr></table>\n</body>\n</html>\n"
    )


class _PlainText(HTMLParser):
    """Sanitised markdown as plain text: paragraphs apart, list items one a line behind a bullet,
    links as "text (url)", quotes behind "> "."""

    BLOCK_TAGS = {"p", "h1", "h2", "h3", "li", "ul", "ol", "blockquote", "hr"}

    @classmethod
    def of(cls, html):
        parser = cls()
        parser.feed(html)
        parser.close()
        parser._end_paragraph()
        text, previous_list = "", None
        for paragraph, in_list in parser.paragraphs:
            if text:
                text += "\n" if in_list is not None and in_list == previous_list else "\n\n"
            text += paragraph
            previous_list = in_list
        return text

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs = []  # (text, the outermost list it is an item of, or None)
        self.words = []
        self.lists = []  # per open list: None for bullets, the next number of a numbered one
        self.lists_opened = 0
        self.links = []  # (href, where the link's text starts in self.words)
        self.quotes = 0
        self.bullet = ""

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCK_TAGS:
            self._end_paragraph()
        if tag == "br":
            self.words.append("\n")
        elif tag in ("ul", "ol"):
            if not self.lists:
                self.lists_opened += 1
            self.lists.append(None if tag == "ul" else 1)
        elif tag == "li" and self.lists:
            number = self.lists[-1]
            if number is not None:
                self.lists[-1] += 1
            self.bullet = "   " * (len(self.lists) - 1) + ("- " if number is None else f"{number}. ")
        elif tag == "blockquote":
            self.quotes += 1
        elif tag == "hr":
            self.paragraphs.append((DIVIDER, None))
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.words)))

    def handle_endtag(self, tag):
        if tag in self.BLOCK_TAGS:
            self._end_paragraph()
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "blockquote" and self.quotes:
            self.quotes -= 1
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.words[start:]).strip()
            if href and href not in (label, f"mailto:{label}"):
                self.words.append(f" ({href})")

    def handle_data(self, data):
        self.words.append(WHITESPACE.sub(" ", data))  # line breaks are <br>, as in a browser

    def _end_paragraph(self):
        lines = [line.strip() for line in "".join(self.words).split("\n")]
        self.words = []
        lines = [line for line in lines if line]
        if not lines:
            return
        if self.bullet:
            first, rest = self.bullet, " " * len(self.bullet)
        else:
            first = rest = "   " * len(self.lists)
        quoted = "> " * self.quotes
        text = "\n".join(quoted + (rest if i else first) + line for i, line in enumerate(lines))
        self.paragraphs.append((text, self.lists_opened if self.lists else None))
        self.bullet = ""
