"""One-time sign-in links that carry a new founder from the platform site to their organisation.

The platform host cannot set a session cookie for <slug>.PLATFORM_DOMAIN, so after provisioning it
redirects to a signed link on the organisation's host. The link names the schema (user ids repeat
across schemas), lives two minutes, and dies once used: it is bound to the account's last_login,
which signing in changes.
"""

from django.conf import settings
from django.core import signing

SALT = "relais.accounts.handoff"
MAX_AGE_SECONDS = 120


def handoff_token(schema_name, user):
    last_login = user.last_login.isoformat() if user.last_login else ""
    return signing.dumps({"schema": schema_name, "user": user.pk, "last_login": last_login}, salt=SALT)


def handoff_url(request, organisation, user):
    host = organisation.get_primary_domain().domain
    # Keep the port the visitor used for the platform (":8000" in development); behind a
    # proxy the Host header carries none.
    _platform_host, colon, port = request.get_host().rpartition(":")
    if colon and port.isdigit():
        host = f"{host}:{port}"
    scheme = "https" if request.is_secure() else settings.PLATFORM_SCHEME
    return f"{scheme}://{host}/accounts/welcome/{handoff_token(organisation.schema_name, user)}/"


def user_for_token(token, schema_name, users):
    """The user the token names in this schema, or None if it is forged, expired, used or elsewhere."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if payload.get("schema") != schema_name:
        return None
    user = users.filter(pk=payload.get("user"), is_active=True).first()
    if user is None:
        return None
    last_login = user.last_login.isoformat() if user.last_login else ""
    return user if payload.get("last_login") == last_login else None
