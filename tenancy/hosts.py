"""Which organisation a host name serves, read from the database once and then from the cache.

Every request of an organisation's site used to pay for the lookup: `SET search_path` to public and
a join of Domain and Organisation, two of the queries every page runs. The answer is cached under
the host name (in the public schema's key space, whatever schema is active), for HOST_CACHE_SECONDS
at most, and forgotten as soon as the organisation or one of its domains changes: a suspension, a
reactivation, a domain added, renamed, moved to another organisation or removed. Forgetting happens
at once and again when the change commits, so that a request that read the old row in between does
not keep it. With several web processes the cache is Redis (REDIS_URL), shared by all of them; a
host that serves nothing is not cached, so a new organisation answers at once.
"""

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django_tenants.utils import get_public_schema_name, get_tenant_domain_model, get_tenant_model, schema_context

HOST_CACHE_SECONDS = 60  # the bound on staleness should a change not reach the cache (Redis unreachable)


def _key(hostname):
    return f"tenants:host:{hostname}"


def organisation_for(hostname):
    """The organisation whose domain `hostname` is (suspended or not), or None."""
    with schema_context(get_public_schema_name()):
        organisation = cache.get(_key(hostname))
        if organisation is None:
            domain = get_tenant_domain_model().objects.select_related("tenant").filter(domain=hostname).first()
            if domain is None:
                return None
            organisation = domain.tenant
            cache.set(_key(hostname), organisation, HOST_CACHE_SECONDS)
    return organisation


def forget_hosts(hostnames):
    """The next request to these hosts reads the database again."""
    keys = [_key(name) for name in set(hostnames) if name]
    if not keys:
        return

    def forget():
        with schema_context(get_public_schema_name()):
            cache.delete_many(keys)

    forget()
    transaction.on_commit(forget)


def _domain_changing(sender, instance, **kwargs):
    if instance.pk:  # a renamed domain: its old name must stop serving the organisation too
        instance._relais_old_domain = sender.objects.filter(pk=instance.pk).values_list("domain", flat=True).first()


def _domain_changed(sender, instance, **kwargs):
    forget_hosts([instance.domain, getattr(instance, "_relais_old_domain", None)])


def _hostnames_of(organisation):
    return list(get_tenant_domain_model().objects.filter(tenant_id=organisation.pk).values_list("domain", flat=True))


def _organisation_changed(sender, instance, **kwargs):
    forget_hosts(_hostnames_of(instance))


def _organisation_removing(sender, instance, **kwargs):
    instance._relais_domains = _hostnames_of(instance)


def _organisation_removed(sender, instance, **kwargs):
    forget_hosts(getattr(instance, "_relais_domains", []))


def connect():
    """Forget a host whenever its organisation or domain changes (models from settings)."""
    Domain, Organisation = get_tenant_domain_model(), get_tenant_model()
    pre_save.connect(_domain_changing, sender=Domain, dispatch_uid="relais-hosts-domain-changing")
    post_save.connect(_domain_changed, sender=Domain, dispatch_uid="relais-hosts-domain-saved")
    post_delete.connect(_domain_changed, sender=Domain, dispatch_uid="relais-hosts-domain-deleted")
    post_save.connect(_organisation_changed, sender=Organisation, dispatch_uid="relais-hosts-organisation-saved")
    pre_delete.connect(_organisation_removing, sender=Organisation, dispatch_uid="relais-hosts-organisation-removing")
    post_delete.connect(_organisation_removed, sender=Organisation, dispatch_uid="relais-hosts-organisation-deleted")
