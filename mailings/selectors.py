"""Reads of mailings: the ones a user may see and send, one by id."""

from django.http import Http404

from chapters import scope
from mailings import capabilities
from mailings.models import Mailing


def mailings_for(user):
    """The mailings of the chapters where the user may send (and the organisation's, for those who
    may send organisation-wide), newest first."""
    if not user.is_authenticated:
        return Mailing.objects.none()
    return scope.within(Mailing.objects.select_related("chapter", "segment", "created_by"), user, capabilities.SEND)


def mailing_for(user, pk, *, raising=True):
    """The mailing, if the user may send in its chapter's name; the same 404 whether it does not
    exist or is another chapter's, so that ids cannot be probed."""
    found = mailings_for(user).filter(pk=pk).first()
    if found is None and raising:
        raise Http404
    return found
