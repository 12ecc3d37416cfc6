"""Encryption of the secrets an organisation gives Relais (its Stripe keys), kept with the tenancy
so that exporting and restoring an organisation can tell whether they will still decrypt.

The key is RELAIS_ENCRYPTION_KEYS (comma-separated, newest first, so a key can be rotated: values
encrypted with an older key still decrypt) or, when unset, one derived from SECRET_KEY. Each
string is stretched to a Fernet key with SHA-256, so any long random string will do.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet():
    secrets = settings.RELAIS_ENCRYPTION_KEYS or [settings.SECRET_KEY]
    return MultiFernet(
        [
            Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"relais.shop:{secret}".encode()).digest()))
            for secret in secrets
        ]
    )


def encrypt(value):
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(value):
    """The clear text, or "" if the value was encrypted under a key Relais no longer has."""
    if not value:
        return ""
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        return ""


def hint(value):
    """What may be shown of a secret: its prefix and last four characters."""
    if not value:
        return ""
    parts = value.split("_")
    head = "_".join(parts[: min(len(parts) - 1, 2)])  # "sk_test", "whsec", "" for a bare value
    return f"{head}_…{value[-4:]}" if head else f"…{value[-4:]}"
