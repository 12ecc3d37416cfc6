from tenants.models import Organisation


def organisation(request):
    """The organisation whose site this is, or None on the platform site."""
    tenant = getattr(request, "tenant", None)
    return {"organisation": tenant if isinstance(tenant, Organisation) else None}
