from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import InvitationForm
from accounts.models import Invitation
from chapters.access import can, require


@login_required
def home(request):
    """The member's home in the web app."""
    return render(
        request,
        "chapters/home.html",
        {"can_invite": can(request.user, "chapters.invite_members")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def invitations(request):
    require(request.user, "chapters.invite_members")
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        sent, already = services.invitations_send(
            actor=request.user,
            emails=form.cleaned_data["emails"],
            build_url=lambda token: request.build_absolute_uri(reverse("invitation_accept", args=[token])),
            organisation_name=request.tenant.name,
        )
        if sent:
            messages.success(request, _("%(count)d invitation(s) sent.") % {"count": len(sent)})
        if already:
            messages.info(request, _("Already members, not invited: %(emails)s") % {"emails": ", ".join(already)})
        return redirect("invitations")
    pending = Invitation.objects.filter(accepted__isnull=True).select_related("invited_by")
    page = Paginator(pending, 25).get_page(request.GET.get("page"))
    return render(request, "chapters/invitations.html", {"form": form, "page": page, "now": timezone.now()})


@login_required
@require_POST
def invitation_revoke(request, pk):
    require(request.user, "chapters.invite_members")
    invitation = get_object_or_404(Invitation, pk=pk, accepted__isnull=True)
    services.invitation_revoke(invitation=invitation)
    messages.success(request, _("The invitation to %(email)s was revoked.") % {"email": invitation.email})
    return redirect("invitations")
