"""What mailings do when the core tells them something happened (chapters.signals)."""

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from chapters.services import InvalidAction, NotAllowed
from mailings import sending
from mailings.models import Mailing


def announcement_posted(sender, announcement, actor, by_email, base_url, **kwargs):
    """An announcement the poster asked to email: a mailing of the chapter to its members (and
    those of the chapters below) who consented to news by email, sent at once (or, where the
    organisation asks for it, once approved). Its fate is told to the poster; the announcement
    is posted whatever it is."""
    if not by_email:
        return None
    language = (translation.get_language() or settings.LANGUAGE_CODE)[:2]
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    try:
        with transaction.atomic():
            mailing = sending.mailing_save(
                actor=actor,
                chapter=announcement.chapter,
                segment=None,
                members_only=True,
                purpose="news",
                language=language,
                subject=announcement.title,
                blocks=[{"type": "text", "markdown": announcement.body}],
            )
            mailing = sending.mailing_send(actor=actor, mailing=mailing, base_url=base_url)
    except NotAllowed:
        return _("It was not emailed: you may not send mailings in this chapter's name.")
    except InvalidAction as error:
        return _("It was not emailed: %(reason)s") % {"reason": error.messages[0]}
    if mailing.status == Mailing.Status.AWAITING:
        return _("Its email waits for the national team's approval (see Mailings).")
    return _("Its email is going out to the members who agreed to receive news (see Mailings).")


def text_requested(sender, number, text, tag="", **kwargs):
    """A transactional text another app sends (an event's reminder), through the organisation's
    SMS provider: None when none is set up."""
    from django.core.exceptions import ImproperlyConfigured

    from mailings import sms

    try:
        provider = sms.provider()
    except ImproperlyConfigured:
        return None
    try:
        provider.send(sender=sending.sms_sender(), recipient=number, content=text, tag=tag)
    except sms.SmsError as error:
        return "failed" if error.outcome == sms.FAILED else "unknown"
    return "sent"
