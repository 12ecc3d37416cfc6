"""A chapter tree in alpha and the people around one chapter of it, for permission tests.

national (alpha's root; Alice the founder is national organiser)
└── nord (region)                 parent_coordinator
    ├── lille (local)             coordinator, member
    │   └── lille-centre (local)  child_coordinator
    └── roubaix (local)           sibling_coordinator, other_chapter_member
"""

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from chapters.models import Chapter, Membership, Role, RoleAssignment
from tests.conftest import PASSWORD, Persona


class Tree:
    def __init__(self, organisation):
        self.organisation = organisation
        self.national = Chapter.objects.get(slug="national")
        self.nord = self.national.add_child(name="Nord", slug="nord", kind=Chapter.Kind.REGION)
        self.lille = Chapter.objects.get(pk=self.nord.pk).add_child(name="Lille", slug="lille")
        self.roubaix = Chapter.objects.get(pk=self.nord.pk).add_child(name="Roubaix", slug="roubaix")
        self.lille_centre = Chapter.objects.get(pk=self.lille.pk).add_child(name="Lille Centre", slug="lille-centre")
        self.nord.refresh_from_db()
        self.people = {}

    def person(self, name, *, role=None, on=None, member_of=None):
        user = User.objects.create_user(email=f"{name}@alpha.example", password=PASSWORD, full_name=name.title())
        if role:
            RoleAssignment.objects.create(user=user, role=Role.objects.get(name=role), chapter=on)
        if member_of:
            Membership.objects.create(
                user=user, chapter=member_of, status=Membership.Status.ACTIVE, is_primary=True, started=timezone.now()
            )
        self.people[name] = Persona(self.organisation, user)
        return user


@pytest.fixture
def tree(alpha):
    with schema_context("alpha"):
        tree = Tree(alpha)
        tree.person("coordinator", role="Chapter coordinator", on=tree.lille, member_of=tree.lille)
        tree.person("parent_coordinator", role="Chapter coordinator", on=tree.nord)
        tree.person("sibling_coordinator", role="Chapter coordinator", on=tree.roubaix)
        tree.person("child_coordinator", role="Chapter coordinator", on=tree.lille_centre)
        tree.person("lille_member", member_of=tree.lille)
        tree.person("other_chapter_member", member_of=tree.roubaix)
        tree.people["organiser"] = Persona(alpha, User.objects.get(email="founder@alpha.example"))
    return tree
