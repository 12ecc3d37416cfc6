from django.conf import settings

from tenants.models import Organisation


def organisation(request):
    """The organisation whose site this is (None on the platform site), and the platform domain."""
    tenant = getattr(request, "tenant", None)
    return {
        "organisation": tenant if isinstance(tenant, Organisation) else None,
        "platform_domain": settings.PLATFORM_DOMAIN,
    }
