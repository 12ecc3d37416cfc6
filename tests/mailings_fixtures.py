"""A hand-built population for mailings' tests, around the chapter tree of chapters_fixtures."""

import pytest
from django_tenants.utils import schema_context

from chapters.access import forget_grants
from mailings import audience, sending
from mailings.models import Suppression
from people import services

GRANT = {"status": "granted", "basis": "explicit_consent", "wording": "Yes", "source": "form"}
BASE = "http://alpha.localhost/"
BODY = [{"type": "text", "markdown": 'Hello {first_name|"friend"}, come on **Saturday**.'}]


class Population:
    """Who should receive an email about news, written out by hand.

    name    chapter        consents                 address                   receives news?
    Ana     lille          email:news               ana@example.org           yes
    Bruno   lille-centre   email:news               bruno@example.org         yes (below Lille)
    Chloé   roubaix        email:news               chloe@example.org         only from Nord or the organisation
    Dan     lille          email:events             dan@example.org           no: another purpose
    Eve     lille          email:news, withdrawn    eve@example.org           no: unsubscribed
    Fred    lille          email:news               fred@example.org          no: bounced hard (suppressed)
    Gabi    lille          email:news               (none)                    no: no address
    Hugo    (none)         email:news               hugo@example.org          only from the organisation
    """

    def __init__(self, tree):
        def person(name, chapter, consents=("email:news",), email=True):
            found, _created = services.person_record(
                source="manual",
                email=f"{name.lower().replace('é', 'e')}@example.org" if email else "",
                phone="" if email else "+33612345670",
                full_name=f"{name} Martin",
                chapter=chapter,
            )
            for consent in consents:
                channel, purpose = consent.split(":")
                services.consent_record(person=found, channel=channel, purpose=purpose, **GRANT)
            return found

        self.ana = person("Ana", tree.lille)
        self.bruno = person("Bruno", tree.lille_centre)
        self.chloe = person("Chloé", tree.roubaix)
        self.dan = person("Dan", tree.lille, consents=["email:events"])
        self.eve = person("Eve", tree.lille)
        services.consent_record(
            person=self.eve, channel="email", purpose="news", status="withdrawn", basis="person_request", source="link"
        )
        self.fred = person("Fred", tree.lille)
        Suppression.objects.create(email="FRED@example.org".lower(), reason=Suppression.Reason.HARD_BOUNCE)
        self.gabi = person("Gabi", tree.lille, email=False)
        self.hugo = person("Hugo", None)
        self.all = [self.ana, self.bruno, self.chloe, self.dan, self.eve, self.fred, self.gabi, self.hugo]

    def names(self, pairs):
        ours = {person.pk: person.full_name.split()[0] for person in self.all}
        return sorted(ours[pk] for pk, _email in pairs if pk in ours)


@pytest.fixture
def population(tree):
    with schema_context("alpha"):
        return Population(tree)


def draft(user, chapter, **changes):
    forget_grants(user)
    fields = {
        "purpose": "news",
        "language": "en",
        "subject": 'Saturday {first_name|"friends"}',
        "segment": None,
        "blocks": BODY,
    }
    fields.update(changes)
    return sending.mailing_save(actor=user, chapter=chapter, **fields)


def reach(user, chapter, purpose="news", segment=None):
    forget_grants(user)
    return audience.addresses(actor=user, segment=segment, chapter=chapter, purpose=purpose)
