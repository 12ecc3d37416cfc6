"""What the supporter base does when the core tells it something happened (chapters.signals)."""

from django.utils.translation import gettext as _

from people import services
from people.models import Activity, Source


def member_started(sender, user, chapter, **kwargs):
    services.member_link(user=user, chapter=chapter, started=True)


def membership_ended(sender, user, chapter, **kwargs):
    services.member_unlink(user=user, chapter=chapter)


def account_changed(sender, user, **kwargs):
    if user.is_active:
        services.person_for_member(user)


def chapter_area_changed(sender, chapter, **kwargs):
    services.chapter_area_apply(chapter)


def invitations_sent(sender, emails, chapter, actor, **kwargs):
    for email in emails:
        services.person_record(
            source=Source.INVITATION,
            source_detail=actor.get_full_name() if actor else "",
            email=email,
            chapter=chapter,
            actor=actor,
            activity=(Activity.Kind.SIGNUP, _("Invited to join"), None),
        )
