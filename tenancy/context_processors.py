from django.conf import settings
from django_tenants.utils import get_tenant_model


def organisation(request):
    """The organisation whose site this is (None on the platform site), and the platform domain."""
    tenant = getattr(request, "tenant", None)
    return {
        "organisation": tenant if isinstance(tenant, get_tenant_model()) else None,
        "platform_domain": settings.PLATFORM_DOMAIN,
    }
