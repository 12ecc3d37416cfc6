"""Signals of the tenancy, so that apps can react to an organisation's life without the platform
importing them.

organisation_provisioned(sender, organisation, hostname): a new organisation's rows, schema and
founder exist. Sent by provisioning inside its transaction and inside the new schema: a receiver
that raises undoes the whole provisioning. Receivers subscribe in their AppConfig.ready().
"""

from django.dispatch import Signal

organisation_provisioned = Signal()
