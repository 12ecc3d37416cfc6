"""Who may do what with a phone bank.

Organisers: who holds `calls.manage` on the campaign's chapter (roles apply downwards) create,
change, open and close it, watch its dashboard and export its results. Callers: the members of the
chapter and of those below it (a campaign "for the chapter's members"), and the people invited to
it; organisers may always call too. Everything else is a 404, whether the campaign exists or not.
"""

from django.db.models import Exists, OuterRef, Q
from django.http import Http404

from calls import capabilities
from calls.models import Caller, Campaign
from chapters import access as chapter_access
from chapters.models import Chapter


def may_manage(user, campaign):
    return user.is_authenticated and chapter_access.can(user, capabilities.MANAGE, campaign.chapter)


def may_call(user, campaign):
    """Whether the user is one of the campaign's callers (open or not: see Campaign.is_open)."""
    if not user.is_authenticated:
        return False
    if may_manage(user, campaign):
        return True
    if campaign.callers == Campaign.Callers.MEMBERS and chapter_access.belongs_within(user, campaign.chapter):
        return True
    # Invited callers call in either kind of campaign (a members' campaign may invite help from elsewhere).
    return Caller.objects.filter(campaign=campaign, user=user).exists()


def campaigns_for(user):
    """The campaigns the user organises or may call for (drafts: organisers only)."""
    if not user.is_authenticated:
        return Campaign.objects.none()
    managed = Q(chapter__in=Chapter.objects.filter(chapter_access.chapters_where(user, capabilities.MANAGE)))
    member_of = Q(callers=Campaign.Callers.MEMBERS, chapter__path__in=chapter_access.chapters_above_grants(user))
    invited = Q(Exists(Caller.objects.filter(campaign=OuterRef("pk"), user=user)))
    return Campaign.objects.filter(managed | ((member_of | invited) & ~Q(status=Campaign.Status.DRAFT)))


def get_campaign_for(user, pk, *, manage=False):
    """The campaign, for one of its callers (or with `manage`, its organisers only); else 404."""
    campaign = campaigns_for(user).select_related("chapter", "segment").filter(pk=pk).first()
    if campaign is None or (manage and not may_manage(user, campaign)):
        raise Http404
    return campaign


def chapters_for_campaigns(user):
    """The chapters where the user may create a campaign, in tree order."""
    return Chapter.objects.filter(
        chapter_access.chapters_where(user, capabilities.MANAGE), archived__isnull=True
    ).order_by("path")
