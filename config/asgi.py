"""ASGI entry point served by Daphne: HTTP through Django, websockets through Channels.

django-tenants' middleware does not run for websockets, so TenantWebsocketMiddleware resolves
the organisation from the Host header before authentication reads the session.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from tenancy.websocket import TenantAuthMiddlewareStack  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(TenantAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
