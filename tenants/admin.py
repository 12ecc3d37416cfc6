"""The platform operator's console: /admin/ on the platform host (public schema only)."""

from django.contrib import admin, messages
from django.db import connection
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import get_public_schema_name

from tenants import services
from tenants.models import Domain, Organisation


class PublicSchemaOnlyAdmin(admin.ModelAdmin):
    """Shown on the platform host only. These tables are in the public schema, which an
    organisation's search_path also reaches: on an organisation's host they must not exist."""

    def has_module_permission(self, request):
        return connection.schema_name == get_public_schema_name() and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return connection.schema_name == get_public_schema_name() and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return connection.schema_name == get_public_schema_name() and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return connection.schema_name == get_public_schema_name() and super().has_delete_permission(request, obj)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ["domain", "is_primary"]


@admin.register(Organisation)
class OrganisationAdmin(PublicSchemaOnlyAdmin):
    list_display = ["name", "schema_name", "status", "site_link", "created"]
    list_filter = ["status"]
    search_fields = ["name", "schema_name", "domains__domain"]
    readonly_fields = ["schema_name", "created"]
    fields = ["name", "schema_name", "status", "created"]
    inlines = [DomainInline]
    actions = ["suspend", "reactivate"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(schema_name=get_public_schema_name()).prefetch_related("domains")

    def has_add_permission(self, request):
        # Organisations are provisioned by the "Create your organisation" form (schema, founder).
        return False

    @admin.display(description=_("site"))
    def site_link(self, organisation):
        domain = next((d for d in organisation.domains.all() if d.is_primary), None)
        if domain is None:
            return "—"
        return format_html('<a href="//{}/">{}</a>', domain.domain, domain.domain)

    @admin.action(description=_("Suspend the selected organisations"), permissions=["change"])
    def suspend(self, request, queryset):
        for organisation in queryset:
            services.organisation_suspend(organisation=organisation)
        count = queryset.count()
        self.message_user(request, ngettext("%d organisation suspended.", "%d organisations suspended.", count) % count)

    @admin.action(description=_("Reactivate the selected organisations"), permissions=["change"])
    def reactivate(self, request, queryset):
        for organisation in queryset:
            services.organisation_reactivate(organisation=organisation)
        count = queryset.count()
        self.message_user(
            request, ngettext("%d organisation reactivated.", "%d organisations reactivated.", count) % count
        )

    def delete_model(self, request, obj):
        services.organisation_delete(organisation=obj)

    def delete_queryset(self, request, queryset):
        # The bulk delete must drop each schema too, not only the rows.
        for organisation in queryset:
            services.organisation_delete(organisation=organisation)
        self.message_user(request, _("Their schemas and all their data were deleted."), messages.WARNING)


admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class TaskResultAdmin(PublicSchemaOnlyAdmin, DBTaskResultAdmin):
    """Task payloads name organisations' schemas and objects: platform operators only."""
