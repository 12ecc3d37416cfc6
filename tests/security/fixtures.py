"""Organisation A (alpha) filled with one object of every kind a route can name, each carrying a
marker, and the people who probe it: beta's users, anonymous visitors, alpha's own members.

Three markers, by who may legitimately read them:
PUBLIC   the campaign site and the public shop (anyone on alpha's host);
ORG      what every alpha member sees (chapter descriptions, role names);
PRIVATE  what only some alpha members see (announcements, documents, messages, orders, emails).
Nothing of alpha may reach beta's host; nothing PRIVATE may reach anyone without the capability.
"""

import datetime
import io
import uuid

import pytest
from django.core.files.images import ImageFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from PIL import Image as PILImage
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.models import Locale

from accounts.handoff import handoff_token
from accounts.models import Invitation, User
from calls import services as calls_services
from calls.models import Campaign, Question, WrongNumber
from chapters import services as chapter_services
from chapters.models import Membership, RoleAssignment
from chat import services as chat_services
from chat.models import Mute
from cms.models import CampaignPage, HomePage, Signup
from events.models import CalendarFeed, Event, Reminder, Rsvp, Timeslot
from mailings import sending as mailing_sending
from mailings.models import Mailing, Recipient
from people import rights
from people import services as people_services
from people.models import CustomField, DuplicatePair, Merge, PersonImport, Segment, Tag
from shop import services as shop_services
from shop.models import Product, PublicOrder
from tests.conftest import PASSWORD

TAG = uuid.uuid4().hex[:10]
PUBLIC = f"alpha-public-{TAG}"
ORG = f"alpha-org-{TAG}"
PRIVATE = f"alpha-secret-{TAG}"
MARKERS = (PUBLIC, ORG, PRIVATE)


def client_for(host, schema=None, email=None):
    """A client on `host`, signed in as `email` of `schema` when given; server errors come back as
    500 responses (a finding), not exceptions that end the probe run."""
    client = Client(HTTP_HOST=host, raise_request_exception=False)
    if email:
        with schema_context(schema):
            assert client.login(email=email, password=PASSWORD)
    return client


def _png(name):
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "PNG")
    return ImageFile(buffer, name=name)


# Alpha's objects get ids far above beta's: beta creates rows while it is probed (its
# announcements room on a first visit to the chat), and a shared id would be beta's own object.
ID_FLOOR = 1_000_000


def _raise_alpha_ids():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(c.oid, GREATEST(COALESCE(pg_sequence_last_value(c.oid), 0), %s)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = 'alpha'",
            [ID_FLOOR],
        )
        assert cursor.fetchall(), "alpha has no sequences"


class AlphaData:
    """Built inside alpha's schema on top of the `catalogue` fixture (tree + shop)."""

    def __init__(self, catalogue):
        _raise_alpha_ids()
        tree = catalogue.tree
        self.tree = tree
        founder = tree.people["organiser"].user
        coordinator = tree.people["coordinator"].user
        logistics = catalogue.logistics
        lille = tree.lille
        chapter_services.chapter_update(actor=founder, chapter=lille, description=f"Lille {ORG}")
        self.chapter = lille

        applicant = User.objects.create_user(email=f"{PRIVATE}.applicant@alpha.example", password=PASSWORD)
        self.requested = chapter_services.membership_request(user=applicant, chapter=lille)
        self.active = Membership.objects.get(user=tree.people["lille_member"].user, chapter=lille)
        self.role = chapter_services.role_save(
            actor=founder, name=f"Role {ORG}", description=PRIVATE, capabilities=["chapters.view_members"]
        )
        self.assignment = RoleAssignment.objects.get(user=coordinator, chapter=lille)
        self.announcement = chapter_services.announcement_post(
            actor=coordinator, chapter=lille, title=f"News {PRIVATE}", body=f"Body {PRIVATE}"
        )
        self.document = chapter_services.document_share(
            actor=coordinator,
            chapter=lille,
            title=f"Minutes {PRIVATE}",
            upload=SimpleUploadedFile("minutes.txt", f"minutes {PRIVATE}".encode(), content_type="text/plain"),
        )
        chapter_services.invitations_send(
            actor=founder,
            emails=[f"{PRIVATE}.invitee@example.org"],
            chapter=lille,
            build_url=lambda token: f"http://alpha.localhost/accounts/invitation/{token}/",
            organisation_name="Alpha",
        )
        self.invitation = Invitation.objects.get(email=f"{PRIVATE}.invitee@example.org")
        self.welcome_token = handoff_token("alpha", founder)

        self.room = chat_services.topic_create(
            actor=coordinator, chapter=lille, name=f"Room {PRIVATE}", audience="subtree"
        )
        self.message = chat_services.message_send(actor=coordinator, room=self.room, body=f"Message {PRIVATE}")
        reporter = tree.people["lille_member"].user
        self.report = chat_services.report_file(actor=reporter, message=self.message, reason="spam", note=PRIVATE)
        chat_services.mute_impose(
            actor=coordinator, room=self.room, user=reporter, minutes=min(chat_services.MUTE_MINUTES), reason=PRIVATE
        )
        self.mute = Mute.objects.get(room=self.room, user=reporter)

        product = shop_services.product_save(
            actor=logistics,
            product=Product(name=f"Badge {PUBLIC}", slug=f"badge-{TAG}", price=100, public=True),
            variants=None,
        )
        self.product = product
        variant = product.variants.get()
        shop_services.stock_receive(actor=logistics, variant=variant, location=catalogue.warehouse, quantity=10)
        today = timezone.localdate()
        self.allowance = shop_services.allowance_save(
            actor=logistics,
            chapter=lille,
            starts=today - datetime.timedelta(days=1),
            ends=today + datetime.timedelta(days=30),
            budget=100_000,
        )
        self.chapter_order = shop_services.chapter_order_request(
            actor=coordinator, chapter=lille, lines=[(catalogue.poster, 2)], note=f"Note {PRIVATE}"
        )
        self.public_order = shop_services.public_order_place(
            lines=[(variant, 1)],
            payment=PublicOrder.Payment.COLLECT,
            collect_chapter=lille,
            full_name=f"Buyer {PRIVATE}",
            email=f"{PRIVATE}.buyer@example.org",
        )

        self.page = CampaignPage(
            title=f"Petition {PUBLIC}",
            slug=f"petition-{TAG}",
            body=[("petition", {"heading": f"Sign {PUBLIC}", "text": "", "goal": 10})],
        )
        HomePage.objects.get(locale=Locale.get_default()).add_child(instance=self.page)
        self.page.save_revision().publish()
        self.signup = Signup.objects.create(
            kind="petition", page=self.page, email=f"{PRIVATE}.signer@example.org", full_name=f"Signer {PRIVATE}",
            token=f"confirm-{TAG}", confirmed=timezone.now(), outcome="signed",
        )  # fmt: skip
        self.image = get_image_model().objects.create(title=f"Image {PUBLIC}", file=_png(f"image-{TAG}.png"))
        self.wagtail_document = get_document_model().objects.create(
            title=f"Doc {PUBLIC}",  # Wagtail serves documents to anyone who has the link
            file=SimpleUploadedFile(f"doc-{TAG}.txt", PUBLIC.encode(), content_type="text/plain"),
        )
        self.user = applicant

        # A supporter of Lille's, who is not a member, with what a person's page shows.
        self.person, _created = people_services.person_record(
            source="manual",
            email=f"{PRIVATE}.supporter@example.org",
            phone="+33612345601",  # not the example number of the forms' help texts
            full_name=f"Supporter {PRIVATE}",
            chapter=lille,
            activity=("note", f"Note {PRIVATE}", None),
        )
        people_services.consent_record(
            person=self.person,
            channel="email",
            purpose="news",
            status="granted",
            basis="explicit_consent",
            wording=f"Wording {PRIVATE}",
            source="paper form",
        )
        self.person.tags.add(Tag.objects.create(name=f"Tag {ORG}"))
        self.custom_field = CustomField.objects.create(name=f"Field {ORG}", key="probe_field")
        # The link to the supporter's data, as mailed to them: valid on alpha's host only.
        self.rights_token = rights.link_token(f"{PRIVATE}.supporter@example.org")
        self.segment = Segment.objects.create(
            name=f"Segment {PRIVATE}", chapter=lille, definition={"all": []}, created_by=coordinator
        )
        self.person_import = PersonImport.objects.create(
            chapter=lille,
            created_by=coordinator,
            file=SimpleUploadedFile(f"people-{TAG}.csv", f"email\n{PRIVATE}.imported@example.org\n".encode()),
            filename=f"people-{PRIVATE}.csv",
            kind="csv",
            preview={"header": ["email"], "rows": [[f"{PRIVATE}.imported@example.org"]]},
        )
        twin, _created = people_services.person_record(
            source="manual", email=f"{PRIVATE}.twin@example.org", full_name=f"Supporter {PRIVATE}", chapter=lille
        )
        first, second = sorted([self.person, twin], key=lambda person: person.pk)
        self.duplicate = DuplicatePair.objects.create(person_a=first, person_b=second, reason="same name")
        merged, _created = people_services.person_record(
            source="manual", email=f"{PRIVATE}.merged@example.org", full_name=f"Merged {PRIVATE}", chapter=lille
        )
        self.merge = Merge.objects.create(kept=twin, merged=merged, snapshot={"name": f"Merged {PRIVATE}"})
        merged.merged_into = twin
        merged.save(update_fields=["merged_into"])

        # A mailing of Lille's to its segment, sent to the supporter, with the links of her message.
        self.mailing = Mailing.objects.create(
            chapter=lille,
            segment=self.segment,
            subject=f"Mailing {PRIVATE}",
            blocks=[{"type": "text", "markdown": f"Body {PRIVATE}"}],
            created_by=coordinator,
            status=Mailing.Status.SENT,
            base_url="http://alpha.localhost/",
            tracked=True,
        )
        self.recipient = Recipient.objects.create(
            mailing=self.mailing, person=self.person, address=f"{PRIVATE}.supporter@example.org", status="sent"
        )
        self.recipient_token = mailing_sending.recipient_token(self.recipient.pk)

        # An event of Lille's for its members (what it is, every member within Lille may read; who
        # answered it, only who manages its events), answered by the supporter; a reminder sent to
        # her; the coordinator's private calendar.
        start = timezone.now() + datetime.timedelta(days=3)
        self.event = Event.objects.create(
            chapter=lille,
            title=f"Event {ORG}",
            description=f"Description {ORG}",
            start=start,
            end=start + datetime.timedelta(hours=2),
            place=f"Place {ORG}",
            capacity=20,
            visibility=Event.Visibility.CHAPTER,
            created_by=coordinator,
        )
        self.timeslot = Timeslot.objects.create(
            event=self.event, start=self.event.start, end=self.event.end, capacity=20, taken=1
        )
        self.rsvp = Rsvp.objects.create(
            timeslot=self.timeslot,
            person=self.person,
            status=Rsvp.Status.GOING,
            source=Rsvp.Source.PUBLIC,
            name=f"Supporter {PRIVATE}",
            email=f"{PRIVATE}.supporter@example.org",
        )
        self.reminder = Reminder.objects.create(rsvp=self.rsvp, kind="confirmation", status="sent")
        self.calendar_feed = CalendarFeed.objects.create(user=coordinator)

        # A phone bank of Lille's for its members, over the segment. What it is and its questions,
        # every member within Lille may read; who is on its list, their number and what they said,
        # only the organisers and each person's caller. Three supporters are on it, the supporter
        # among them: Lille's member called the first (she answered), is calling the second now (her
        # number shown to him once), and the third waits; a member invited to call; a number reported
        # wrong.
        self.call_campaign = calls_services.campaign_save(
            actor=coordinator, chapter=lille, segment=self.segment, title=f"Phone bank {ORG}",
            description=f"Why we call {ORG}", purpose="news", script=f"Hello {{first_name}}, {ORG}",
            calling_from=datetime.time(0, 0), calling_until=datetime.time(23, 59, 59, 999999),
            calling_days=[1, 2, 3, 4, 5, 6, 7], cooldown_hours=4, max_attempts=3,
            callers=Campaign.Callers.MEMBERS, starts=today, ends=None,
        )  # fmt: skip
        self.question = calls_services.question_add(
            actor=coordinator, campaign=self.call_campaign, kind=Question.Kind.CHOICE, text=f"Question {ORG}",
            choices=calls_services.parse_choices(f"Yes {ORG}\nNo {ORG}"),
        )  # fmt: skip
        said = calls_services.question_add(
            actor=coordinator, campaign=self.call_campaign, kind=Question.Kind.TEXT, text=f"Anything else {ORG}?"
        )
        invited = User.objects.create_user(
            email=f"{PRIVATE}.caller@alpha.example", password=PASSWORD, full_name=f"Invited {PRIVATE}"
        )
        self.caller = calls_services.caller_invite(actor=coordinator, campaign=self.call_campaign, user=invited)
        phone_consent = {"channel": "phone", "purpose": "news", "status": "granted", "basis": "explicit_consent"}
        people_services.consent_record(person=self.person, wording=f"Wording {PRIVATE}", source="call", **phone_consent)
        for name, number in [("Listed", "+33612345679"), ("Waiting", "+33612345670")]:
            other, _created = people_services.person_record(
                source="manual", phone=number, full_name=f"{name} {PRIVATE}", chapter=lille
            )
            people_services.consent_record(person=other, wording=f"Wording {PRIVATE}", source="call", **phone_consent)
        calls_services.campaign_open(actor=coordinator, campaign=self.call_campaign)
        self.call_campaign.refresh_from_db()
        member = tree.people["lille_member"].user
        called = calls_services.call_next(actor=member, campaign=self.call_campaign)
        calls_services.call_reveal(actor=member, call=called)
        self.called = calls_services.call_record(
            actor=member, call=called, outcome="answered", note=f"Note {PRIVATE}",
            answers={str(self.question.pk): f"Yes {ORG}", str(said.pk): f"Said {PRIVATE}"},
        )  # fmt: skip
        self.call = calls_services.call_next(actor=member, campaign=self.call_campaign)
        assert calls_services.call_reveal(actor=member, call=self.call), "the caller was not shown the number"
        self.reveal = self.call.reveals.get()
        self.target = self.call.target
        self.wrong_number = WrongNumber.objects.create(
            number="+33612345600", reported_by=member, campaign=self.call_campaign
        )

    def arguments(self):
        """The value of each URL parameter that names one of alpha's objects, by parameter name;
        `by_route` overrides it for the routes where a name means something else."""
        page = str(self.page.pk)
        image = str(self.image.pk)
        document = str(self.wagtail_document.pk)
        common = {
            "slug": self.chapter.slug,
            "room_id": str(self.room.pk),
            "message_id": str(self.message.pk),
            "report_id": str(self.report.pk),
            "mute_id": str(self.mute.pk),
            "reference": self.chapter_order.reference,
            "token": self.public_order.token,
            "page_id": page,
            "parent_page_id": page,
            "page_to_move_id": page,
            "page_pk": page,
            "image_id": image,
            "document_id": document,
            "doc_id": document,
            "schema": "alpha",
            "path": self.image.file.name,
            "_1": document,
            "_2": self.wagtail_document.filename,
            "mailing_id": str(self.mailing.pk),
        }
        by_route = {
            "membership_approve": {"pk": self.requested.pk},
            "membership_refuse": {"pk": self.requested.pk},
            "membership_remove": {"pk": self.active.pk},
            "membership_transfer": {"pk": self.active.pk},
            "announcement_delete": {"pk": self.announcement.pk},
            "document_download": {"pk": self.document.pk},
            "document_delete": {"pk": self.document.pk},
            "role_edit": {"pk": self.role.pk},
            "assignment_delete": {"pk": self.assignment.pk},
            "invitation_revoke": {"pk": self.invitation.pk},
            "invitation_accept": {"token": self.invitation.token},
            "welcome": {"token": self.welcome_token},
            "cms_signup_confirm": {"token": self.signup.token},
            "shop_product_edit": {"pk": self.product.pk},
            "shop_variant_add": {"pk": self.product.pk},
            "shop_photo_add": {"pk": self.product.pk},
            "shop_allowance_edit": {"pk": self.allowance.pk},
            "shop_product": {"slug": self.product.slug},
            "shop_public_order": {"reference": self.public_order.reference},
            "shop_public_order_action": {"reference": self.public_order.reference},
            "wagtail_serve": {"_1": f"{self.page.slug}/"},
            **{
                name: {"pk": self.person.pk}
                for name in ("person_detail", "person_edit", "person_note", "person_consent", "person_tags")
            },
            "people_field_edit": {"pk": self.custom_field.pk},
            "people_duplicate_dismiss": {"pk": self.duplicate.pk},
            "people_merge": {"pk": self.duplicate.pk},
            "people_merge_undo": {"pk": self.merge.pk},
            **{
                name: {"pk": self.person_import.pk}
                for name in (
                    "people_import_map",
                    "people_import_detail",
                    "people_import_progress",
                    "people_import_rejections",
                )
            },
            **{
                name: {"token": self.rights_token}
                for name in (
                    "people_rights_home",
                    "people_rights_download",
                    "people_rights_consents",
                    "people_rights_erase",
                )
            },
            **{
                name: {"pk": self.segment.pk}
                for name in ("people_segment", "people_segment_edit", "people_segment_delete", "people_segment_export")
            },
            **{
                name: {"pk": self.mailing.pk}
                for name in (
                    "mailing",
                    "mailing_edit",
                    "mailing_preview",
                    "mailing_count",
                    "mailing_test",
                    "mailing_send",
                    "mailing_cancel",
                    "mailing_approve",
                    "mailing_reject",
                )
            },
            **{
                name: {"token": self.recipient_token}
                for name in ("mailings:unsubscribe", "mailings:preferences", "mailings:opened")
            },
            "mailings:click": {"token": self.recipient_token, "rank": 0},
            **{
                name: {"pk": self.event.pk}
                for name in (
                    "event",
                    "event_edit",
                    "event_cancel",
                    "event_publish",
                    "event_rsvp",
                    "event_rsvp_cancel",
                    "event_attendees",
                    "event_walk_in",
                    "event_report",
                    "event_member_ics",
                    "event_public",
                    "event_ics",
                )
            },
            "event_checkin": {"pk": self.event.pk, "rsvp_pk": self.rsvp.pk},
            "rsvp_confirm": {"token": self.rsvp.token},
            "rsvp_cancel": {"token": self.rsvp.token},
            "calendar_feed": {"token": self.calendar_feed.token},
            **{
                name: {"pk": self.call_campaign.pk}
                for name in (
                    "call_campaign",
                    "call_campaign_edit",
                    "call_questions",
                    "call_callers",
                    "call_campaign_status",
                    "call_dashboard",
                    "call_export",
                    "call_reveals",
                    "call_next",
                )
            },
            "call_question_delete": {"pk": self.call_campaign.pk, "question_pk": self.question.pk},
            "call_caller_remove": {"pk": self.call_campaign.pk, "caller_pk": self.caller.pk},
            **{
                name: {"pk": self.call_campaign.pk, "call_pk": self.call.pk}
                for name in ("call_page", "call_keep", "call_release")
            },
        }
        return common, {name: {key: str(value) for key, value in values.items()} for name, values in by_route.items()}

    def wagtail_pk(self, route):
        """The object a Wagtail admin `<pk>` names, from the route's place in the admin."""
        for part, value in [
            ("/pages/", self.page.pk),
            ("/images/", self.image.pk),
            ("/documents/", self.wagtail_document.pk),
            ("/signup/", self.signup.pk),
            ("/users/", self.user.pk),
        ]:
            if part in route:
                return str(value)
        return None


@pytest.fixture
def data(catalogue):
    """Alpha with one object of every kind a route can name, for the isolation and fuzz suites."""
    with schema_context("alpha"):
        built = AlphaData(catalogue)
    connection.set_schema_to_public()
    return built
