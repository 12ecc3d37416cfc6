"""Organisations (tenants) and the host names that reach them. Public schema only."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


class Organisation(TenantMixin):
    """A movement running on Relais. Its slug is its PostgreSQL schema name."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(_("name"), max_length=100)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    # Schemas are created by tenants.services.organisation_create (cloned from the template)
    # and dropped with the row, so deleting an organisation from the admin removes its data.
    auto_create_schema = False
    auto_drop_schema = True

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def slug(self):
        return self.schema_name

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE


class Domain(DomainMixin):
    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")

    def __str__(self):
        return self.domain
