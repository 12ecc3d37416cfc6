"""Domain signals the core sends so that feature apps can react without the core importing them.

membership_ended(sender, user, chapter): a membership ended (left, removed, transferred, erased).
role_revoked(sender, user, chapter): a role assignment was taken back.
Receivers subscribe in their AppConfig.ready(); they are called inside the service's transaction.
"""

from django.dispatch import Signal

membership_ended = Signal()
role_revoked = Signal()
