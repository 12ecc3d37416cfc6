"""Every write on accounts. Runs in the schema the caller selected (an organisation's)."""

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import User

# Until the role model lands (chapters), the founder's standing is this group.
NATIONAL_ORGANISERS = "National organisers"


def founder_create(*, email, full_name, password):
    """The organisation's first account: a national organiser, email not yet verified."""
    with transaction.atomic():
        founder = User.objects.create_user(email=email, password=password, full_name=full_name)
        EmailAddress.objects.create(user=founder, email=founder.email, primary=True, verified=False)
        organisers, _created = Group.objects.get_or_create(name=NATIONAL_ORGANISERS)
        founder.groups.add(organisers)
    return founder


def is_national_organiser(user):
    return user.is_authenticated and user.groups.filter(name=NATIONAL_ORGANISERS).exists()
