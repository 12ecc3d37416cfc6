"""Every write on accounts. Runs in the schema the caller selected (an organisation's)."""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone, translation

from accounts.models import Invitation, User
from accounts.tasks import send_invitation_email

INVITATION_LIFETIME = timedelta(days=14)


def founder_create(*, email, full_name, password):
    """The organisation's first account, its email not yet verified."""
    with transaction.atomic():
        founder = User.objects.create_user(email=email, password=password, full_name=full_name)
        EmailAddress.objects.create(user=founder, email=founder.email, primary=True, verified=False)
    return founder


def invitations_send(*, actor, emails, build_url, organisation_name):
    """Invite each address not yet a member; returns (sent, already_members).

    A pending invitation to the same address is replaced (its link stops working). The mail is a
    background task enqueued after commit. build_url(token) gives the absolute accept link on this
    organisation's host.
    """
    existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    to_invite = [email for email in emails if email not in existing]
    expires = timezone.now() + INVITATION_LIFETIME
    with transaction.atomic():
        Invitation.objects.filter(email__in=to_invite, accepted__isnull=True).delete()
        invitations = [Invitation.objects.create(email=email, invited_by=actor, expires=expires) for email in to_invite]
    language = translation.get_language()
    for invitation in invitations:
        send_invitation_email.enqueue_on_commit(invitation.pk, build_url(invitation.token), organisation_name, language)
    return invitations, sorted(existing)


def invitation_accept(*, invitation, full_name, password):
    """Create the invited account, its email already verified (the link proved it)."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation.is_usable:
            raise InvitationUnusable
        user = User.objects.create_user(email=invitation.email, password=password, full_name=full_name)
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
        invitation.accepted = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted", "accepted_by"])
    return user


class InvitationUnusable(Exception):
    """The invitation was used, revoked or has expired."""
