"""What the campaign site's templates ask for beyond the page itself: the site's menu, the
language versions of what is shown, the pages every page links to (the chapter index, the join
page, the news feed), the call-to-action forms and the petition counter.

Every tag works without a `page` in the context (search, the sign-up results), from the request.
"""

import re
from html import unescape

from django import template
from django.conf import settings
from django.urls import translate_url
from django.utils import translation
from django.utils.html import strip_tags
from django.utils.text import Truncator
from wagtail.models import Locale, Page, Site

from chapters.access import can, can_anywhere
from cms import selectors, services
from cms.forms import SignupForm
from cms.models import ChapterIndexPage, JoinPage, NewsIndexPage

register = template.Library()


@register.simple_tag(takes_context=True)
def cms_in_menu(context):
    """Whether the main menu links to the editors' admin (/cms/): for superusers, and for the people
    cms/permissions.py puts in a Wagtail group, who hold cms.edit_site organisation-wide or
    cms.publish_chapter_pages on a chapter. Read from the grants every page has loaded already:
    `perms.wagtailadmin.access_admin` asked Django's ModelBackend, two more queries on every page."""
    user = context.get("user")
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or can(user, "cms.edit_site") or can_anywhere(user, "cms.publish_chapter_pages")


def _site(context):
    request = context.get("request")
    return Site.find_for_request(request) if request is not None else None


def _live_in_active_locale(model):
    return model.objects.live().public().filter(locale=Locale.get_active()).first()


def _url(context, page):
    return page.get_url(context.get("request")) if page is not None else ""


@register.simple_tag(takes_context=True)
def current_site(context):
    """The Wagtail site serving this request (its name heads every page)."""
    return _site(context)


@register.simple_tag(takes_context=True)
def site_home(context):
    """The site's home page in the visitor's language."""
    site = _site(context)
    return site.root_page.localized if site is not None else None


@register.inclusion_tag("cms/includes/menu.html", takes_context=True)
def site_menu(context):
    """The home page's live children shown in menus, in the visitor's language; the entry of the
    current page, or of the section it is in, is marked."""
    site = _site(context)
    current = context.get("page")
    entries = []
    if site is not None:
        home = site.root_page.localized
        for item in home.get_children().live().public().in_menu():
            state = None
            if isinstance(current, Page):
                if current.pk == item.pk:
                    state = "page"
                elif current.path.startswith(item.path):
                    state = "true"
            entries.append((item, state))
    return {"request": context.get("request"), "entries": entries}


@register.simple_tag(takes_context=True)
def language_links(context):
    """One link per language version of what is shown, in the order of WAGTAIL_CONTENT_LANGUAGES:
    the page's live translations, or for the site's other pages (search) the same address in each
    language. Empty when there is no other version (the sign-up results under /site/ follow the
    visitor's language choice, their address has none)."""
    request = context.get("request")
    page = context.get("page")
    if isinstance(page, Page):
        versions = page.get_translations(inclusive=True).live().public().select_related("locale")
        by_language = {version.locale.language_code: version for version in versions}
    elif request is None:
        return []
    links = []
    for code, label in settings.WAGTAIL_CONTENT_LANGUAGES:
        if isinstance(page, Page):
            version = by_language.get(code)
            if version is None:
                continue
            url, full_url = version.get_url(request), version.full_url
        else:
            url = translate_url(request.get_full_path(), code)
            full_url = request.build_absolute_uri(url)
        with translation.override(code):  # each language named in itself
            name = str(label)
        links.append({"code": code, "name": name, "url": url, "full_url": full_url})
    if len({link["url"] for link in links}) < 2:
        return []
    active = translation.get_language()
    return [{**link, "current": link["code"] == active} for link in links]


@register.simple_tag
def page_description(page, fallback=""):
    """What search engines and link previews show: the page's search description, else its
    introduction (rich text on form pages) or the home page's hero text, else the fallback."""
    for text in (
        getattr(page, "search_description", ""),
        getattr(page, "intro", ""),
        getattr(page, "hero_text", ""),
        fallback,
    ):
        text = " ".join(strip_tags(str(text or "")).split())
        if text:
            return unescape(Truncator(text).chars(300))
    return ""


@register.simple_tag(takes_context=True)
def absolute_url(context, url):
    request = context.get("request")
    return request.build_absolute_uri(url) if request is not None and url else url


@register.simple_tag(takes_context=True)
def chapter_index_url(context):
    """The address of the chapter index in the visitor's language ("" if there is none)."""
    return _url(context, _live_in_active_locale(ChapterIndexPage))


@register.simple_tag(takes_context=True)
def join_page_url(context):
    """The address of the "join us" page in the visitor's language ("" if there is none)."""
    return _url(context, _live_in_active_locale(JoinPage))


@register.simple_tag(takes_context=True)
def news_feed_url(context):
    """The RSS feed of the news index in the visitor's language ("" if there is none)."""
    index = _live_in_active_locale(NewsIndexPage)
    base = _url(context, index)
    if not base:
        return ""
    return base.rstrip("/") + "/" + index.reverse_subpage("feed")


@register.simple_tag(takes_context=True)
def unique_id(context, prefix):
    """An element id not used before in this response: `prefix`1, `prefix`2… (a page may carry two
    forms, and each block is rendered on its own)."""
    request = context.get("request")
    numbers = getattr(request, "_cms_ids", None)
    if numbers is None:
        numbers = {}
        if request is not None:
            request._cms_ids = numbers
    numbers[prefix] = numbers.get(prefix, 0) + 1
    return f"{prefix}{numbers[prefix]}"


@register.inclusion_tag("cms/includes/signup_form.html", takes_context=True)
def signup_form(context, page, kind, chapter=None):
    """A join (kind "join") or petition (kind "petition") form posting to cms.views.signup, the
    chapter preselected when given."""
    form = SignupForm(
        join=kind == "join",
        initial={"chapter": chapter.pk} if chapter is not None else None,
        auto_id=unique_id(context, kind) + "-%s",
    )
    return {"form": form, "page": page, "kind": kind}


@register.simple_tag
def petition_count(page):
    """Confirmed signatures of the petition on `page` (the live counter takes over in the browser)."""
    return services.signature_count(page.pk) if page is not None else 0


@register.simple_tag
def upcoming_events(count, chapter=None):
    """The coming public events, of `chapter` and the chapters below it, or of every chapter."""
    return selectors.coming_events(count, chapter=chapter)


@register.filter
def og_locale(language_code):
    """fr → fr, en-gb → en_GB: the form OpenGraph's og:locale takes."""
    return translation.to_locale(language_code or "")


HEX_COLOUR = re.compile(r"^#([0-9a-fA-F]{6})$")


def _luminance(hex_colour):
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@register.filter
def colour_or(value, default):
    """The colour if it is a #rrggbb colour, else the default: the value goes into a <style>."""
    return value if isinstance(value, str) and HEX_COLOUR.match(value) else default


@register.filter
def ink_on(background):
    """Black or white, whichever reads better on `background` (a #rrggbb colour): an organisation
    may choose a pale main colour, and its buttons' labels must stay readable."""
    if not isinstance(background, str) or not HEX_COLOUR.match(background):
        return "#ffffff"
    luminance = _luminance(background)
    on_white = 1.05 / (luminance + 0.05)
    on_black = (luminance + 0.05) / 0.05
    return "#ffffff" if on_white >= on_black else "#111111"


@register.filter
def ink_or(colour, fallback):
    """The colour if text in it reads on white (WCAG AA, 4.5:1), else the fallback: links take the
    organisation's accent colour only when it is dark enough."""
    if not isinstance(colour, str) or not HEX_COLOUR.match(colour):
        return fallback
    return colour if 1.05 / (_luminance(colour) + 0.05) >= 4.5 else fallback
