from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import Invitation
from tenancy.tasks import tenant_task


@tenant_task
def send_invitation_email(invitation_id, url, organisation_name, language):
    """Mail one invitation; a revoked or used invitation is skipped."""
    invitation = Invitation.objects.select_related("invited_by").filter(pk=invitation_id, accepted__isnull=True).first()
    if invitation is None:
        return None
    context = {
        "invitation": invitation,
        "inviter": invitation.invited_by,
        "url": url,
        "organisation_name": organisation_name,
    }
    with translation.override(language):
        send_mail(
            subject=render_to_string("accounts/email/invitation_subject.txt", context).strip(),
            message=render_to_string("accounts/email/invitation_message.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
    return invitation.email
