"""Opens and clicks, only for the mailings of an organisation that turned counting them on
(MailingSettings.track_opens_clicks, off by default): its emails then carry an invisible image
and links that pass through the organisation's own address.

A tracked link names the recipient (the signed key of their message's links) and the link's rank
in their message; the address it leads to is found again by rendering that recipient's message,
so only the mailing's own links can be reached through it (no open redirect), and nothing about
the links needs storing.
"""

import re

from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from mailings.models import Recipient

LINK = re.compile(r'href="(https?://[^"]+)"')
BODY_END = "</body>"


def links_of(html, base_url):
    """The links of a message a click may lead to, in order: not its own unsubscribe and
    preferences links, which stay as they are."""
    own = base_url.rstrip("/") + "/mailings/"
    return [url for url in LINK.findall(html) if not url.startswith(own)]


def tracked(html, base_url, token):
    """The message's HTML with each of its links through the click counter, and the image that
    counts the opening."""
    base = base_url.rstrip("/")
    own, rank = base + "/mailings/", iter(range(10**6))

    def through(match):
        if match[1].startswith(own):
            return match[0]
        return f'href="{base}{reverse("mailings:click", args=[token, next(rank)])}"'

    image = (
        f'<img src="{base}{reverse("mailings:opened", args=[token])}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;">'
    )
    html = LINK.sub(through, html)
    return html.replace(BODY_END, image + BODY_END, 1) if BODY_END in html else html + image


def opened(recipient):
    Recipient.objects.filter(pk=recipient.pk, opened__isnull=True).update(opened=timezone.now())


def clicked(recipient, rank):
    """The address of the recipient's rank-th link, the click counted (an open too: the image may
    have been blocked); None when the message has no such link."""
    from mailings import sending

    compiled, _look = sending.compiled_for(recipient.mailing)
    rendered, _unsubscribe = sending._rendered(compiled, recipient, recipient.mailing.base_url)
    links = links_of(rendered.html, recipient.mailing.base_url)
    if not 0 <= rank < len(links):
        return None
    Recipient.objects.filter(pk=recipient.pk).update(clicks=F("clicks") + 1)
    opened(recipient)
    return links[rank].replace("&amp;", "&")
