"""The campaign site's fixtures: a chapter tree built through the chapters' services (so that the
chapter pages and the editors' groups follow it), with a coordinator per chapter.

national (alpha's root; the founder edits the whole site)
└── nord        nord_coordinator
    ├── lille   lille_coordinator, lille_member
    └── roubaix roubaix_coordinator
"""

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from chapters import services as chapter_services
from chapters.models import Chapter, Role
from tests.conftest import PASSWORD, Persona


class SiteTree:
    def __init__(self, organisation):
        self.organisation = organisation
        self.founder = User.objects.get(email=f"founder@{organisation.schema_name}.example")
        self.national = Chapter.objects.get(slug="national")
        self.nord = self.chapter("Nord", "nord", self.national, area="59 62")
        self.lille = self.chapter("Lille", "lille", self.nord, area="59000 59800")
        self.roubaix = self.chapter("Roubaix", "roubaix", self.nord, area="59100")
        self.people = {}
        coordinator = Role.objects.get(name="Chapter coordinator")
        for name, chapter in [
            ("nord_coordinator", self.nord),
            ("lille_coordinator", self.lille),
            ("roubaix_coordinator", self.roubaix),
        ]:
            user = self.person(name)
            chapter_services.role_assign(actor=self.founder, user=user, role=coordinator, chapter=chapter)
        member = self.person("lille_member")
        chapter_services.membership_request(user=member, chapter=self.lille)

    def chapter(self, name, slug, parent, area=""):
        return chapter_services.chapter_create(
            actor=self.founder, parent=Chapter.objects.get(pk=parent.pk), name=name, slug=slug, kind="local", area=area,
            description=f"The {name} chapter meets on Thursdays.", public_contact=f"{slug}@example.org",
        )  # fmt: skip

    def person(self, name):
        user = User.objects.create_user(
            email=f"{name}@{self.organisation.schema_name}.example",
            password=PASSWORD,
            full_name=name.replace("_", " ").title(),
        )
        self.people[name] = Persona(self.organisation, user)
        return user


@pytest.fixture
def site_tree(alpha):
    with schema_context("alpha"):
        return SiteTree(alpha)
