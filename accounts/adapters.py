from allauth.account.adapter import DefaultAccountAdapter
from django.db import connection
from django_tenants.utils import get_public_schema_name


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # Members sign up on their organisation's site; the platform has operators only.
        return connection.schema_name != get_public_schema_name()
