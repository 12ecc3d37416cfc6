"""The campaign site's additions to /cms/: the sign-ups list, filterable and exportable."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import WagtailFilterSet
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from cms.models import Signup


class SignupFilterSet(WagtailFilterSet):
    class Meta:
        model = Signup
        fields = ["kind", "outcome", "page", "chapter"]


class SignupViewSet(SnippetViewSet):
    model = Signup
    icon = "user"
    menu_label = _("Sign-ups")
    menu_order = 250
    add_to_admin_menu = True
    inspect_view_enabled = True
    list_display = ["full_name", "email", "kind", "page", "chapter", "created", "confirmed", "outcome"]
    list_export = [
        "full_name",
        "email",
        "postcode",
        "kind",
        "page",
        "chapter",
        "language",
        "created",
        "confirmed",
        "outcome",
    ]
    export_filename = "sign-ups"
    filterset_class = SignupFilterSet
    search_fields = ["full_name", "email", "postcode"]
    ordering = ["-created"]


register_snippet(SignupViewSet)
