"""Create the demo organisation and the logins `make run` prints. Safe to run again: what exists
is left as it is.

The demo has a national chapter, 3 regions, 8 local chapters, about 200 members with varied
privacy choices, coordinators at region and local level, announcements, a document, chat rooms
with a few hundred messages, the shop, events and their answers, and a supporter base of 20,000
people who are not members.
"""

import random

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from calls import demo as demo_calls
from chapters import services as chapter_services
from chapters.models import Announcement, Chapter, Document, Membership, Role, RoleAssignment
from chat.models import Mention, Message, Report, Room, RoomMember
from cms import demo as demo_site
from cms import permissions, sync
from cms.models import ArticlePage
from cms.services import site_setup
from events import demo as demo_events
from mailings import demo as demo_mailings
from operations import demo
from people import demo as demo_people
from people.models import CustomField
from shop import demo as demo_shop
from shop.models import Product
from tenants import services
from tenants.models import Organisation

MEMBERS = 200


class Command(BaseCommand):
    help = "Create (or keep) the demo organisation, its chapters, members and logins, and a platform operator."

    def add_arguments(self, parser):
        parser.add_argument(
            "--people", type=int, default=demo_people.SUPPORTERS, help="How many supporters who are not members."
        )

    def handle(self, *args, **options):
        connection.set_schema_to_public()
        if not User.objects.filter(email=demo.OPERATOR_EMAIL).exists():
            User.objects.create_superuser(
                email=demo.OPERATOR_EMAIL, password=demo.PASSWORD, full_name="Platform operator"
            )
            self.stdout.write("Created the platform operator.")

        organisation = Organisation.objects.filter(schema_name=demo.SLUG).first()
        if organisation is None:
            organisation, _founder = services.organisation_create(
                name=demo.NAME,
                slug=demo.SLUG,
                founder_name="Camille Organisatrice",
                founder_email=demo.ORGANISER_EMAIL,
                founder_password=demo.PASSWORD,
            )
            self.stdout.write(f"Created the demo organisation at {organisation.get_primary_domain()}.")

        with schema_context(organisation.schema_name), transaction.atomic():
            organiser = User.objects.get(email=demo.ORGANISER_EMAIL)
            if not Chapter.objects.filter(depth=1).exists():
                chapter_services.organisation_setup(name=demo.NAME, founder=organiser)
            if not Chapter.objects.filter(slug="lille").exists():
                self.seed_organisation(organiser)
                self.stdout.write(f"Seeded {MEMBERS} members in {Chapter.objects.count()} chapters.")
            # A demo seeded before the campaign site existed gets its chapter pages and editors too.
            site_setup(name=demo.NAME, hostname=services.organisation_hostname(demo.SLUG))
            sync.pages_create_missing(actor=organiser)
            permissions.sync_everyone()
            if not ArticlePage.objects.exists():
                demo_site.seed(organiser)
                self.stdout.write("Seeded the campaign website.")
            logistics = demo_shop.logistics_manager(demo.LOGISTICS_EMAIL, demo.PASSWORD, organiser)
            if not Product.objects.exists():
                coordinator = User.objects.filter(email=demo.COORDINATOR_EMAIL).first()
                demo_shop.seed(organiser, logistics=logistics, coordinator=coordinator)
                self.stdout.write("Seeded the shop.")
            demo_people.members_recorded()
            if not CustomField.objects.exists():  # the supporter base's fields come with its seed
                count = demo_people.seed(
                    organiser, first_names=demo.FIRST_NAMES, last_names=demo.LAST_NAMES, count=options["people"]
                )
                self.stdout.write(f"Seeded the supporter base: {count} people who are not members.")
            mailings = demo_mailings.seed(organiser, User.objects.filter(email=demo.COORDINATOR_EMAIL).first())
            if mailings:
                self.stdout.write(f"Seeded {mailings} draft mailings.")
            events = demo_events.seed(
                organiser,
                member=User.objects.filter(email=demo.MEMBER_EMAIL).first(),
                base_url=f"http://{services.organisation_hostname(demo.SLUG)}:8000/",
            )
            if events:
                self.stdout.write(f"Seeded {events} events and their answers.")
            calls = demo_calls.seed(
                organiser,
                coordinator=User.objects.filter(email=demo.COORDINATOR_EMAIL).first(),
                member=User.objects.filter(email=demo.MEMBER_EMAIL).first(),
            )
            if calls:
                self.stdout.write(f"Seeded the phone bank “Rappel mobilisation” and {calls} calls.")
            # Demo logins work at once: their addresses count as verified.
            for user in User.objects.filter(email__in=[email for _label, email in demo.LOGINS]):
                EmailAddress.objects.update_or_create(
                    user=user, email=user.email, defaults={"primary": True, "verified": True}
                )
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def seed_organisation(self, organiser):
        rng = random.Random(2026)  # noqa: S311 - not security: the same demo every time
        national = Chapter.objects.get(depth=1)
        locals_ = []
        for (region_name, region_slug, region_area), cities in demo.TREE:
            region = chapter_services.chapter_create(
                actor=organiser, parent=national, name=region_name, slug=region_slug, kind="region", area=region_area,
                description=f"Coordination régionale {region_name}.", joining=Chapter.Joining.APPROVAL,
            )  # fmt: skip
            for city, slug, area in cities:
                locals_.append(
                    chapter_services.chapter_create(
                        actor=organiser, parent=Chapter.objects.get(pk=region.pk), name=city, slug=slug, kind="local",
                        area=area, description=f"Le groupe local de {city} : réunions le jeudi soir.",
                        public_contact=f"{slug}@demo.localhost",
                        joining=Chapter.Joining.OPEN if city == "Amiens" else Chapter.Joining.APPROVAL,
                    )
                )  # fmt: skip
        chapter_services.chapter_create(
            actor=organiser, parent=national, name="Jeunes", slug="jeunes", kind="thematic",
            description="Le réseau des moins de 30 ans.", joining=Chapter.Joining.OPEN,
        )  # fmt: skip

        password = make_password(demo.PASSWORD)
        now = timezone.now()
        people = [
            User(email=demo.COORDINATOR_EMAIL, full_name="Karim Benali", city="Lille", password=password,
                 visibility="organisation", show_email=True, skills=["rédaction"], interests=["logement"]),
            User(email=demo.MEMBER_EMAIL, full_name="Hélène Dubois", city="Lille", password=password,
                 visibility="chapters", skills=["graphisme"], interests=["écologie", "culture"]),
        ]  # fmt: skip
        visibilities = ["organisation"] * 5 + ["chapters"] * 4 + ["nobody"]
        for number in range(MEMBERS - len(people)):
            first, last = rng.choice(demo.FIRST_NAMES), rng.choice(demo.LAST_NAMES)
            people.append(
                User(
                    email=f"{first}.{last}.{number}@demo.localhost".lower().replace(" ", ""),
                    full_name=f"{first} {last}",
                    password=password,
                    phone=f"+3361{rng.randrange(10**7):07d}",
                    visibility=rng.choice(visibilities),
                    show_email=rng.random() < 0.3,
                    show_phone=rng.random() < 0.2,
                    skills=rng.sample(demo.SKILLS, rng.randrange(0, 3)),
                    interests=rng.sample(demo.INTERESTS, rng.randrange(0, 4)),
                )
            )
        for person in people:
            person.search_text = person.build_search_text()
        # A demo seeded by an earlier version may hold some of these logins already: keep them.
        existing = set(User.objects.filter(email__in=[p.email for p in people]).values_list("email", flat=True))
        User.objects.bulk_create([person for person in people if person.email not in existing])
        by_email = {user.email: user for user in User.objects.filter(email__in=[p.email for p in people])}
        people = [by_email[person.email] for person in people]

        memberships = []
        for index, person in enumerate(people):
            chapter = locals_[0] if index < 2 else rng.choice(locals_)
            person.city = person.city or chapter.name
            memberships.append(Membership(user=person, chapter=chapter, status="active", is_primary=True, started=now))
        User.objects.bulk_update(people, ["city"])
        for person in people:
            person.search_text = person.build_search_text()
        User.objects.bulk_update(people, ["search_text"])
        Membership.objects.bulk_create(memberships)
        lille = Chapter.objects.get(slug="lille")
        elsewhere = [m.user for m in memberships[2:] if m.chapter != lille]
        Membership.objects.bulk_create(
            Membership(user=user, chapter=lille, status="requested") for user in elsewhere[:10]
        )

        coordinator = Role.objects.get(name="Chapter coordinator")
        by_slug = {c.slug: c for c in Chapter.objects.all()}
        RoleAssignment.objects.create(user=people[0], role=coordinator, chapter=by_slug["lille"], granted_by=organiser)
        for region_index, slug in enumerate(["hauts-de-france", "bretagne", "occitanie"]):
            RoleAssignment.objects.create(
                user=people[20 + region_index], role=coordinator, chapter=by_slug[slug], granted_by=organiser
            )
        RoleAssignment.objects.create(
            user=people[30],
            role=Role.objects.get(name="Logistics manager"),
            chapter=by_slug["rennes"],
            granted_by=organiser,
        )
        RoleAssignment.objects.create(
            user=people[31], role=Role.objects.get(name="Moderator"), chapter=national, granted_by=organiser
        )
        for chapter in [national, *locals_]:
            Announcement.objects.create(
                chapter=chapter,
                author=organiser if chapter == national else people[0],
                title=f"Bienvenue dans {chapter.name}",
                body="Prochaine **réunion** jeudi à 19h.\n\n- ordre du jour : la campagne de printemps\n- tractage",
            )
        self.seed_chat(rng, national, by_slug, people)
        document = Document(chapter=by_slug["lille"], uploaded_by=people[0], title="Charte du groupe local", size=0)
        content = "Charte du groupe local de Lille\n\nNous nous engageons à…\n".encode()
        document.size = len(content)
        document.file.save("charte.txt", ContentFile(content), save=False)
        document.save()

    def seed_chat(self, rng, national, by_slug, people):
        """A few hundred messages in Lille's room and the organisation's announcements, topics, a
        conversation, a mention and a report to handle."""
        lille = Room.objects.create(kind=Room.Kind.CHAPTER, chapter=by_slug["lille"], name="Lille")
        announcements = Room.objects.create(kind=Room.Kind.ANNOUNCEMENTS, chapter=national, name="Annonces")
        lille_members = [m.user for m in Membership.objects.filter(chapter=by_slug["lille"], status="active")]
        lines = [
            "Qui vient au tractage samedi ?", "Moi ! Rendez-vous **10h** place de la République.",
            "J'apporte les affiches.", "Pensez aux gilets.", "Compte rendu de la réunion en ligne ce soir.",
            "Merci à toutes et tous pour hier !", "On a besoin de bras pour le stand du marché.",
            "La salle est réservée jeudi 19h.", "Qui peut imprimer 200 tracts ?", "Je m'en occupe.",
        ]  # fmt: skip
        Message.objects.bulk_create(
            Message(room=lille, author=rng.choice(lille_members), body=rng.choice(lines)) for _ in range(300)
        )
        Message.objects.bulk_create(
            Message(room=announcements, author=people[0], body=f"Point d'étape n°{number} de la campagne.")
            for number in range(1, 21)
        )
        coordinator, member = people[0], people[1]
        # A topic open to the whole region, an invitation-only one, a conversation, a mention and a
        # report waiting in the moderators' queue.
        region = Room.objects.create(
            kind=Room.Kind.TOPIC, chapter=by_slug["hauts-de-france"], name="Marche pour le climat",
            audience=Room.Audience.SUBTREE, created_by=coordinator,
        )  # fmt: skip
        Message.objects.bulk_create(
            Message(room=region, author=rng.choice(lille_members), body=rng.choice(lines)) for _ in range(40)
        )
        team = Room.objects.create(
            kind=Room.Kind.TOPIC, chapter=by_slug["lille"], name="Équipe affiches",
            audience=Room.Audience.INVITED, created_by=coordinator,
        )  # fmt: skip
        RoomMember.objects.bulk_create(RoomMember(room=team, user=user, added_by=coordinator) for user in people[:2])
        mention = Message.objects.create(
            room=team, author=coordinator, body=f"@{member.full_name} tu peux relire la maquette ?"
        )
        Mention.objects.create(message=mention, user=member)
        direct = Room.objects.create(
            kind=Room.Kind.DIRECT, chapter=national, created_by=member,
            direct_key=",".join(str(pk) for pk in sorted([coordinator.pk, member.pk])),
        )  # fmt: skip
        RoomMember.objects.bulk_create(RoomMember(room=direct, user=user, added_by=member) for user in people[:2])
        Message.objects.create(room=direct, author=member, body="Salut Karim, je serai en retard jeudi.")
        Message.objects.create(room=direct, author=coordinator, body="Pas de souci, merci de prévenir !")
        spammer = next(user for user in lille_members if user not in (coordinator, member))
        spam = Message.objects.create(
            room=lille, author=spammer, body="Achetez des montres pas chères sur example.com !!!"
        )
        Report.objects.create(message=spam, reporter=member, reason=Report.Reason.SPAM, snapshot=spam.body)
