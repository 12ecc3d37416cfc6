"""A mailing's messages: tokens and fallbacks, escaping, safe markdown, both parts' shape, the
footer in the mailing's language, the organisation's look, and per-recipient work kept to filling
holes. Only the look needs the database."""

import io
import re
import time

import markdown
import nh3
import pytest
from django.core.files.images import ImageFile
from django.test import RequestFactory
from django.utils.translation import gettext_lazy
from django_tenants.utils import schema_context
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage
from wagtail.images.models import Image

from chapters.services import InvalidAction
from cms.models import OrganisationSettings
from mailings import rendering
from mailings.models import Mailing
from mailings.rendering import Look, compile_mailing, look_for, preview, validate_blocks, validate_tokens
from people.models import Purpose

LOOK = Look(name="Alpha Collectif", primary_colour="#0a7d4f", accent_colour="#5b2a86")
LINKS = {"unsubscribe_url": "https://alpha.example/u/41/?t=a&b", "preferences_url": "https://alpha.example/p/41/"}


def compiled(blocks=(), subject="News", preview_text="", language="en", look=LOOK, purpose_label="news"):
    return compile_mailing(
        subject=subject,
        preview_text=preview_text,
        blocks=list(blocks),
        language=language,
        look=look,
        purpose_label=purpose_label,
    )


def text_block(markdown_text):
    return {"type": "text", "markdown": markdown_text}


def render(blocks=(), values=None, **options):
    return compiled(blocks, **options).render({**LINKS, **(values or {})})


def body_of(message):
    """The HTML between the header row and the footer row: what the blocks became."""
    return message.html.split('line-height:1.5;color:#1b1f27;">', 1)[1].split("</td></tr>", 1)[0]


# Tokens -----------------------------------------------------------------------------------


def test_tokens_take_the_recipients_values():
    message = render(
        [text_block("Hello {first_name} {last_name} of {commune} ({postcode}), {email}: {full_name}.")],
        values={
            "first_name": "Camille",
            "last_name": "Martin",
            "commune": "Lyon",
            "postcode": "69001",
            "email": "camille@example.org",
            "full_name": "Camille Martin",
        },
        subject="For you, {first_name}",
    )

    assert message.subject == "For you, Camille"
    assert (
        '<p style="margin:0 0 16px;">Hello Camille Martin of Lyon (69001), camille@example.org: Camille Martin.</p>'
        in (message.html)
    )
    assert message.text.startswith("Hello Camille Martin of Lyon (69001), camille@example.org: Camille Martin.\n")


def test_fallback_stands_in_for_an_empty_or_missing_value():
    compiled_mailing = compiled(
        [
            text_block('{first_name|"Bonjour"}, à bientôt'),
            {"type": "button", "label": 'Join us, {first_name|"friend"}', "href": "https://alpha.example/join"},
        ],
        subject='{first_name|"Hello"}!',
        preview_text='Dear {first_name|"friend"}',
    )

    for values in ({}, {"first_name": ""}, {"first_name": None}, {"first_name": "  "}):
        message = compiled_mailing.render({**LINKS, **values})
        assert message.subject == "Hello!"
        assert "Bonjour, à bientôt" in message.text
        assert "Join us, friend: https://alpha.example/join" in message.text
        assert ">Join us, friend</a>" in message.html
        assert ">Dear friend&#847;" in message.html
    assert compiled_mailing.render({**LINKS, "first_name": "Zoé"}).subject == "Zoé!"


def test_a_token_without_a_fallback_is_left_empty():
    assert render([text_block("Hello {first_name}!")]).text.startswith("Hello !\n")


def test_hostile_value_is_escaped_in_html_and_left_as_is_in_text():
    hostile = '<script>alert("x")</script> & Co'
    message = render(
        [
            text_block("**{first_name}**"),
            {"type": "button", "label": "Go {first_name}", "href": "https://alpha.example/"},
        ],
        values={"first_name": hostile},
        subject="Hi {first_name}",
        preview_text="For {first_name}",
    )

    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co"
    assert "<script>" not in message.html
    assert f"<strong>{escaped}</strong>" in message.html
    assert f">Go {escaped}</a>" in message.html
    assert f"<title>Hi {escaped}</title>" in message.html
    assert f">For {escaped}&#847;" in message.html
    assert message.subject == f"Hi {hostile}"
    assert message.text.startswith(f"{hostile}\n\nGo {hostile}: https://alpha.example/\n")


def test_value_cannot_break_the_subject_into_headers():
    message = render(subject="Hi {first_name}", values={"first_name": "Eve\r\nBcc: all@example.org"})
    assert message.subject == "Hi Eve Bcc: all@example.org"


def test_value_in_a_link_target_is_url_quoted_so_that_it_cannot_become_a_link():
    message = render(
        [text_block("[Sign](https://alpha.example/sign?who={full_name}) and [me]({first_name})")],
        values={"full_name": "Zoé & Léa", "first_name": "javascript:alert(1)"},
    )

    assert 'href="https://alpha.example/sign?who=Zo%C3%A9%20%26%20L%C3%A9a"' in message.html
    assert 'href="javascript%3Aalert%281%29"' in message.html
    assert "javascript:" not in message.html
    assert "Sign (https://alpha.example/sign?who=Zo%C3%A9%20%26%20L%C3%A9a)" in message.text


def test_braces_that_are_not_tokens_stay_as_written():
    message = render([text_block('Code: { }, {"a": 1}, {a, b}, {{, }}, {1}')], subject="50% {off")

    assert message.subject == "50% {off"
    assert 'Code: { }, {"a": 1}, {a, b}, {{, }}, {1}' in message.text
    assert '<p style="margin:0 0 16px;">Code: { }, {"a": 1}, {a, b}, {{, }}, {1}</p>' in message.html


def test_unknown_token_is_refused_with_the_known_ones():
    with pytest.raises(InvalidAction) as refused:
        validate_tokens("Bonjour {prénom}", where="Subject")

    assert refused.value.messages == [
        "Subject: {prénom} is not a field we know; the fields are "
        "{first_name}, {last_name}, {full_name}, {email}, {commune}, {postcode}."
    ]


@pytest.mark.parametrize("written", ["{first_name|Hello}", "{ first_name }", "{first_name|'Hello'}"])
def test_badly_written_token_is_refused_with_how_to_write_it(written):
    with pytest.raises(InvalidAction) as refused:
        validate_tokens(f"Hi {written}")

    assert refused.value.messages == [
        'write a field as {first_name}, or {first_name|"…"} with what to write when it is empty.'
    ]


def test_tokens_of_subject_preview_and_blocks_are_checked_when_compiling():
    with pytest.raises(InvalidAction, match=r"^\['Subject: \{name\} is not a field"):
        compiled(subject="Hi {name}")
    with pytest.raises(InvalidAction, match=r"^\['Preview text: \{name\} is not a field"):
        compiled(preview_text="Hi {name}")
    with pytest.raises(InvalidAction, match=r"^\['Block 2: \{name\} is not a field"):
        compiled([{"type": "divider"}, text_block("Hi {name}")])
    with pytest.raises(InvalidAction, match=r"^\['Block 1: \{name\} is not a field"):
        compiled([{"type": "button", "label": "Hi {name}", "href": "https://alpha.example/"}])


def test_known_tokens_pass_and_the_text_is_returned():
    text = 'Hi {first_name|"there"}, {commune} { } {"x": 1}'
    assert validate_tokens(text) == text


# Markdown ---------------------------------------------------------------------------------


def test_markdown_becomes_styled_html():
    message = render([text_block("## Rally\n\n**Saturday** at *noon*: [the map](https://alpha.example/map).")])

    assert body_of(message) == (
        '<div><h2 style="margin:0 0 12px;font-size:21px;line-height:1.3;">Rally</h2>\n'
        '<p style="margin:0 0 16px;"><strong>Saturday</strong> at <em>noon</em>: '
        '<a style="color:#5b2a86;text-decoration:underline;" href="https://alpha.example/map">the map</a>.</p></div>'
    )


def test_markdown_cannot_carry_scripts_handlers_or_dangerous_links():
    message = render(
        [
            text_block(
                "<script>alert(1)</script> <a href='https://alpha.example/' onclick='steal()'>here</a> "
                "<img src=x onerror=alert(2)> [x](javascript:alert(3)) <style>p{color:red}</style> "
                '<p style="display:none" class="x">hidden</p>'
            )
        ]
    )
    body = body_of(message)

    assert "<script" not in body
    assert "alert(1)" not in body
    assert "onclick" not in body
    assert "steal" not in body
    assert "<img" not in body
    assert "onerror" not in body
    assert "javascript:" not in body
    assert "<style" not in body
    assert "display:none" not in body
    assert 'href="https://alpha.example/">here</a>' in body
    assert "javascript:" not in message.text
    assert "alert(1)" not in message.text


def test_an_unreadable_colour_cannot_slip_into_styles():
    look = Look(name="Alpha", primary_colour='red;" onmouseover="x', accent_colour="url(javascript:x)")
    message = render([text_block("[a](https://alpha.example/)"), {"type": "divider"}], look=look)

    assert "onmouseover" not in message.html
    assert "url(" not in message.html
    assert "border-top:4px solid #b3261e;" in message.html
    assert "color:#1d3557;" in message.html


# Refusals ---------------------------------------------------------------------------------

URL = "https://alpha.example/"


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ("not a list", "The body of a mailing is a list of blocks."),
        ({"type": "divider"}, "The body of a mailing is a list of blocks."),
        (None, "The body of a mailing is a list of blocks."),
        ([{"type": "divider"}] * 51, "A mailing holds 50 blocks at most."),
        (["text"], "Block 1: a block is a text, an image, a button or a divider."),
        ([{"type": "divider"}, {"type": "video"}], "Block 2: a block is a text, an image, a button or a divider."),
        ([{"markdown": "Hi"}], "Block 1: a block is a text, an image, a button or a divider."),
        ([{"type": ["text"]}], "Block 1: a block is a text, an image, a button or a divider."),
        ([{"type": "text"}], "Block 1: a text block needs some text."),
        ([{"type": "text", "markdown": "  \n "}], "Block 1: a text block needs some text."),
        ([{"type": "text", "markdown": 12}], "Block 1: a text block needs some text."),
        ([{"type": "text", "markdown": "bad \ud800 text"}], "Block 1: a text block needs some text."),
        ([text_block("a" * 10_001)], "Block 1: a text block holds 10000 characters at most."),
        ([text_block("[" * 301)], "Block 1: a text block holds 300 “[” at most, the signs that open links."),
        ([text_block("1. " * 2000)], "Block 1: this text is nested too deeply to be read."),
        ([{"type": "image"}], "Block 1: an image needs the address of its picture."),
        ([{"type": "image", "src": 7}], "Block 1: an image needs the address of its picture."),
        (
            [{"type": "image", "src": "javascript:alert(1)"}],
            "Block 1: an image's address must be a web address, starting with https://.",
        ),
        (
            [{"type": "image", "src": "data:image/png;base64,AAAA"}],
            "Block 1: an image's address must be a web address, starting with https://.",
        ),
        (
            [{"type": "image", "src": "/media/logo.png"}],
            "Block 1: an image's address must be a web address, starting with https://.",
        ),
        (
            [{"type": "image", "src": "https://alpha.example/" + "a" * 2100}],
            "Block 1: an image's address must be a web address, starting with https://.",
        ),
        ([{"type": "image", "src": URL, "alt": ["x"]}], "Block 1: an image's description must be text."),
        (
            [{"type": "image", "src": URL, "alt": "a" * 251}],
            "Block 1: an image's description holds 250 characters at most.",
        ),
        (
            [{"type": "image", "src": URL, "href": "javascript:alert(1)"}],
            "Block 1: an image's link must be a web address, starting with https://.",
        ),
        (
            [{"type": "image", "src": URL, "href": {"url": URL}}],
            "Block 1: an image's link must be a web address, starting with https://.",
        ),
        ([{"type": "button", "href": URL}], "Block 1: a button needs a label."),
        ([{"type": "button", "label": " ", "href": URL}], "Block 1: a button needs a label."),
        (
            [{"type": "button", "label": "a" * 81, "href": URL}],
            "Block 1: a button's label holds 80 characters at most.",
        ),
        ([{"type": "button", "label": "Go"}], "Block 1: a button needs a link."),
        (
            [{"type": "button", "label": "Go", "href": "ftp://alpha.example/"}],
            "Block 1: a button's link must be a web address, starting with https://.",
        ),
        (
            [{"type": "button", "label": "Go", "href": "https://alpha.example/ space"}],
            "Block 1: a button's link must be a web address, starting with https://.",
        ),
        (
            [{"type": "button", "label": "Go {prenom}", "href": URL}],
            "Block 1: {prenom} is not a field we know; the fields are "
            "{first_name}, {last_name}, {full_name}, {email}, {commune}, {postcode}.",
        ),
    ],
)
def test_validate_blocks_refuses_with_a_message_naming_the_block(blocks, message):
    with pytest.raises(InvalidAction) as refused:
        validate_blocks(blocks)
    assert refused.value.messages == [message]


def test_validate_blocks_keeps_the_known_fields_cleaned():
    blocks = [
        {"type": "text", "markdown": "  Hello  \n", "colour": "red"},
        {"type": "image", "src": " https://alpha.example/a.png ", "alt": " A\n crowd ", "onload": "x"},
        {"type": "image", "src": URL, "alt": None, "href": ""},
        {"type": "button", "label": " Join\nus ", "href": "http://alpha.example/join"},
        {"type": "divider", "style": "dotted"},
    ]

    assert validate_blocks(blocks) == [
        {"type": "text", "markdown": "Hello"},
        {"type": "image", "src": "https://alpha.example/a.png", "alt": "A crowd", "href": ""},
        {"type": "image", "src": URL, "alt": "", "href": ""},
        {"type": "button", "label": "Join us", "href": "http://alpha.example/join"},
        {"type": "divider"},
    ]
    assert validate_blocks([]) == []
    assert len(validate_blocks([{"type": "divider"}] * 50)) == 50


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
BLOCK_LIKE = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image", "button", "divider", "video"])},
    optional={
        "markdown": st.text(alphabet="[]()<>!*_`#>-=1. \n{}|\"'xé&;:/", max_size=200) | JSON,
        "src": st.sampled_from([URL, "javascript:x", "", "http://a", "https://ä.example/{x}"]) | JSON,
        "alt": st.text(max_size=40) | JSON,
        "href": st.sampled_from([URL, "data:x", "", 'https://alpha.example/?a=<b>&c="d"']) | JSON,
        "label": st.text(max_size=100) | JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(BLOCK_LIKE, max_size=5) | JSON)
def test_any_input_is_refused_with_invalid_action_or_renders(blocks):
    try:
        cleaned = validate_blocks(blocks)
    except InvalidAction:
        return
    message = compiled(cleaned).render({**LINKS, "first_name": "{0} <b>"})
    assert message.html.endswith("</html>\n")
    assert message.text.endswith(LINKS["preferences_url"])


# The parts' shape --------------------------------------------------------------------------

EVERY_BLOCK = [
    {"type": "image", "src": "https://alpha.example/rally.jpg", "alt": "The rally", "href": "https://alpha.example/"},
    text_block(
        "# Saturday's rally\n\n"
        'Hello {first_name|"friend"},\n'
        "we meet at **noon**, [see the map](https://alpha.example/map) or write to <team@alpha.example>.\n\n"
        "- bring water\n"
        "- bring a friend\n"
        "    - or two\n\n"
        "1. march\n"
        "2. listen\n\n"
        "> Together we organise.\n\n"
        "See <https://alpha.example/>"
    ),
    {"type": "divider"},
    {"type": "button", "label": 'I\'ll come, {first_name|"friend"}', "href": "https://alpha.example/rsvp?a=1&b=2"},
    {"type": "image", "src": "https://alpha.example/decor.png", "alt": ""},
]


def test_plain_text_part_reads_like_the_mailing():
    message = render(EVERY_BLOCK, values={"first_name": "Camille"}, purpose_label="events")

    assert message.text == (
        "The rally (https://alpha.example/)\n"
        "\n"
        "Saturday's rally\n"
        "\n"
        "Hello Camille,\n"
        "we meet at noon, see the map (https://alpha.example/map) or write to team@alpha.example.\n"
        "\n"
        "- bring water\n"
        "- bring a friend\n"
        "   - or two\n"
        "\n"
        "1. march\n"
        "2. listen\n"
        "\n"
        "> Together we organise.\n"
        "\n"
        "See https://alpha.example/\n"
        "\n"
        "----------------------------------------\n"
        "\n"
        "I'll come, Camille: https://alpha.example/rsvp?a=1&b=2\n"
        "\n"
        "-- \n"
        "Alpha Collectif\n"
        "You receive this because you agreed to hear from Alpha Collectif about events.\n"
        "Unsubscribe: https://alpha.example/u/41/?t=a&b\n"
        "Change what you receive: https://alpha.example/p/41/"
    )


def test_html_part_is_an_email_layout_with_the_look():
    message = render(EVERY_BLOCK, preview_text='Noon, {first_name|"friend"}!', values={"first_name": "Camille"})
    html = message.html

    assert html.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert re.search(r'<body [^>]*><span style="display:none;[^"]*">Noon, Camille!&#847;', html)
    assert 'style="max-width:600px;background-color:#ffffff;"' in html
    assert '<table role="presentation"' in html
    assert "<style" not in html
    assert "border-top:4px solid #0a7d4f;" in html
    assert '<span style="font-size:22px;font-weight:bold;color:#0a7d4f;">Alpha Collectif</span>' in html
    assert (
        '<a href="https://alpha.example/"><img src="https://alpha.example/rally.jpg" alt="The rally" width="552"'
    ) in html
    assert '<td style="border-radius:4px;background-color:#0a7d4f;">' in html
    assert (
        '<a href="https://alpha.example/rsvp?a=1&amp;b=2" style="display:inline-block;padding:12px 24px;'
        'font-weight:bold;color:#ffffff;text-decoration:none;border-radius:4px;">I&#x27;ll come, Camille</a>'
    ) in html
    assert '<hr style="border:0;border-top:1px solid #e4e4e7;margin:24px 0;">' in html


def test_without_preview_text_there_is_no_hidden_span():
    assert '<body style="margin:0;padding:0;background-color:#f4f4f5;">\n<table' in render().html


def test_a_logo_replaces_the_name_in_the_header():
    look = Look(name="Alpha & Co", logo_url="https://alpha.example/media/alpha/images/logo.height-120.png")
    html = render(look=look).html

    assert (
        '<img src="https://alpha.example/media/alpha/images/logo.height-120.png" alt="Alpha &amp; Co" height="60"'
    ) in html
    assert "font-size:22px;font-weight:bold" not in html


def test_a_pale_main_colour_gets_dark_button_labels_and_heading():
    html = render(
        [{"type": "button", "label": "Go", "href": URL}], look=Look(name="Alpha", primary_colour="#ffd54f")
    ).html

    assert "color:#111111;text-decoration:none" in html
    assert '<span style="font-size:22px;font-weight:bold;color:#1b1f27;">Alpha</span>' in html


# The footer ------------------------------------------------------------------------------


def test_footer_says_why_and_links_to_unsubscribe_and_preferences_in_both_parts():
    message = render([text_block("Hi")], purpose_label="fundraising")
    footer = message.html.split("border-top:1px solid #e4e4e7;", 1)[1]

    assert '<p style="margin:0 0 8px;font-weight:bold;">Alpha Collectif</p>' in footer
    assert "You receive this because you agreed to hear from Alpha Collectif about fundraising." in footer
    link = 'style="color:#5f6368;text-decoration:underline;"'
    assert f'<a href="https://alpha.example/u/41/?t=a&amp;b" {link}>Unsubscribe</a>' in footer
    assert f'<a href="https://alpha.example/p/41/" {link}>Change what you receive</a>' in footer
    assert message.text.endswith(
        "\n-- \nAlpha Collectif\n"
        "You receive this because you agreed to hear from Alpha Collectif about fundraising.\n"
        "Unsubscribe: https://alpha.example/u/41/?t=a&b\n"
        "Change what you receive: https://alpha.example/p/41/"
    )


def test_each_recipient_gets_their_own_footer_links():
    compiled_mailing = compiled([text_block("Hi")])
    first = compiled_mailing.render(
        {"unsubscribe_url": "https://a.example/u/1", "preferences_url": "https://a.example/p/1"}
    )
    second = compiled_mailing.render(
        {"unsubscribe_url": "https://a.example/u/2", "preferences_url": "https://a.example/p/2"}
    )

    assert "https://a.example/u/1" in first.html
    assert "https://a.example/u/1" in first.text
    assert "https://a.example/u/2" not in first.html + first.text
    assert "https://a.example/u/2" in second.html
    assert "https://a.example/p/2" in second.text


def test_render_needs_the_footer_links():
    with pytest.raises(KeyError):
        compiled([text_block("Hi")]).render({"first_name": "Camille"})


def test_footer_is_written_in_the_mailings_language(monkeypatch):
    # The French catalogue of these texts is not written yet: the texts carry the language active
    # when they were translated, and the purpose (already translated) shows the real thing.
    monkeypatch.setattr(rendering, "_", lambda text: f"[{rendering.translation.get_language()}] {text}")
    purpose = gettext_lazy("News and campaigns")

    french = render([text_block("Salut")], language="fr", purpose_label=purpose)
    english = render([text_block("Hello")], language="en", purpose_label=purpose)

    assert french.html.startswith('<!DOCTYPE html>\n<html lang="fr">')
    assert ">[fr] Unsubscribe</a>" in french.html
    assert ">[fr] Change what you receive</a>" in french.html
    assert "[fr] You receive this because you agreed to hear from Alpha Collectif about Actualités et campagnes." in (
        french.text
    )
    assert "[fr] Unsubscribe" in french.text
    assert ">[en] Unsubscribe</a>" in english.html
    assert "about News and campaigns." in english.text
    assert rendering.translation.get_language() == "en"  # the override ends with the compiling


def test_button_in_text_follows_the_mailings_language(monkeypatch):
    monkeypatch.setattr(rendering, "_", lambda text: f"[{rendering.translation.get_language()}] {text}")
    message = render([{"type": "button", "label": "Viens", "href": URL}], language="fr")
    assert f"[fr] Viens: {URL}" in message.text


# Per recipient: holes filled, nothing more ---------------------------------------------------


def test_render_does_no_markdown_or_sanitising_work(monkeypatch):
    compiled_mailing = compiled(EVERY_BLOCK, subject="Hi {first_name}")
    before = compiled_mailing.render({**LINKS, "first_name": "Camille"})

    def forbidden(*args, **kwargs):
        raise AssertionError("markdown work while rendering")

    monkeypatch.setattr(markdown, "markdown", forbidden)
    monkeypatch.setattr(markdown.Markdown, "convert", forbidden)
    monkeypatch.setattr(nh3, "clean", forbidden)
    monkeypatch.setattr(rendering, "_", forbidden)

    assert compiled_mailing.render({**LINKS, "first_name": "Camille"}) == before


def test_renders_thousands_of_messages_a_second():
    compiled_mailing = compiled(EVERY_BLOCK * 3, subject="Hi {first_name}", preview_text="{commune}")
    count = 3000
    started = time.perf_counter()
    for number in range(count):
        compiled_mailing.render(
            {
                "first_name": f"Camille {number}",
                "full_name": "Camille Martin",
                "email": f"camille{number}@example.org",
                "unsubscribe_url": f"https://alpha.example/u/{number}/",
                "preferences_url": f"https://alpha.example/p/{number}/",
            }
        )
    assert count / (time.perf_counter() - started) > 5000


def test_preview_uses_sample_values_and_links_to_nowhere():
    mailing = Mailing(
        subject='Hi {first_name|"there"}',
        preview_text="",
        blocks=[text_block("From {commune}")],
        language="en",
        purpose=Purpose.EVENTS,
    )

    message = preview(mailing, LOOK)

    assert message.subject == "Hi Camille"
    assert message.text.startswith("From Lyon\n")
    assert "agreed to hear from Alpha Collectif about Events." in message.text
    assert "Unsubscribe: #" in message.text
    assert '<a href="#" style="color:#5f6368;text-decoration:underline;">Unsubscribe</a>' in message.html


def test_preview_of_invalid_content_is_refused():
    mailing = Mailing(subject="Hi", blocks=[{"type": "video"}], language="en", purpose=Purpose.NEWS)
    with pytest.raises(InvalidAction):
        preview(mailing, LOOK)


# The organisation's look (database) -----------------------------------------------------------


def logo_image():
    buffer = io.BytesIO()
    PILImage.new("RGB", (400, 200), "#336699").save(buffer, "PNG")
    return Image.objects.create(title="Logo", file=ImageFile(buffer, name="logo.png"))


def test_look_defaults_to_the_organisations_name_and_default_colours(alpha):
    with schema_context("alpha"):
        look = look_for()

    assert look == Look(name="Alpha Collectif", logo_url=None, primary_colour="#b3261e", accent_colour="#1d3557")


def test_look_reads_the_site_settings_logo_and_colours(alpha):
    host = alpha.get_primary_domain().domain
    with schema_context("alpha"):
        OrganisationSettings.objects.update(logo=logo_image(), primary_colour="#0a7d4f", accent_colour="#5b2a86")
        from_worker = look_for()
        from_request = look_for(RequestFactory().get("/", HTTP_HOST=host))

    assert from_worker.name == "Alpha Collectif"
    assert (from_worker.primary_colour, from_worker.accent_colour) == ("#0a7d4f", "#5b2a86")
    assert re.fullmatch(
        # Another test's logo may hold the name: the storage then adds a suffix ("logo_x1Y2z3a").
        rf"http://{re.escape(host)}/media/alpha/images/logo[^/.]*\.[^/]*height-120\.png",
        from_worker.logo_url,
    )
    assert from_request == from_worker


def test_look_ignores_a_colour_that_is_not_one_and_a_logo_whose_file_is_gone(alpha):
    with schema_context("alpha"):
        logo = logo_image()
        OrganisationSettings.objects.update(logo=logo, primary_colour="red")
        logo.file.storage.delete(logo.file.name)
        look = look_for()

    assert look.primary_colour == "#b3261e"
    assert look.logo_url is None
