"""Tenant resolution for websockets, where django-tenants' HTTP middleware does not run.

The organisation is found from the Host header and put in scope["tenant"]; an unknown host or a
suspended organisation is refused before the handshake completes. Consumers enter
schema_context(scope["tenant"].schema_name) in every database call themselves (those run on
another thread, where the connection's schema is not this one's).
"""

from channels.auth import AuthMiddleware, get_user
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django_tenants.utils import schema_context

from tenancy.hosts import organisation_for
from tenancy.middleware import OrganisationMiddleware


@database_sync_to_async
def organisation_for_host(hostname):
    """The active organisation the host serves (looked up as for HTTP, cached), or None."""
    organisation = organisation_for(hostname)
    return organisation if organisation is not None and organisation.is_active else None


class TenantWebsocketMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        host = headers.get(b"host", b"").decode("latin-1")
        hostname = OrganisationMiddleware.hostname_from_request(_HostOnly(host))
        organisation = await organisation_for_host(hostname)
        if organisation is None:
            # Refuse the handshake: close before accept.
            await receive()
            await send({"type": "websocket.close", "code": 4404})
            return None
        return await self.app({**scope, "tenant": organisation}, receive, send)


class TenantAuthMiddleware(AuthMiddleware):
    """Channels' AuthMiddleware, reading the session and the user in the organisation's schema."""

    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await user_in_schema(scope)


@database_sync_to_async
def user_in_schema(scope):
    with schema_context(scope["tenant"].schema_name):
        return get_user.func(scope)


def TenantAuthMiddlewareStack(inner):
    """Tenant, cookies, session, user: what every websocket route sits behind."""
    return TenantWebsocketMiddleware(CookieMiddleware(SessionMiddleware(TenantAuthMiddleware(inner))))


class _HostOnly:
    """Just enough of a request for hostname_from_request."""

    def __init__(self, host):
        self.META = {"HTTP_HOST": host}
