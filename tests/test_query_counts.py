"""Every page of the member app (/app/) costs a bounded number of queries, whatever the data.

The GET routes are found by walking the URLconf (tests/security/routes.py), so a new page is
measured without anyone editing this file; a route that cannot be rendered here must be named in
EXEMPT with the reason. Each page is rendered as alpha's founder, a national organiser (who may see
every page and every row), once with a batch of data (members, chapters, join requests, roles,
announcements, documents, invitations, rooms, messages, reactions, mentions, reports, mutes,
products, stock, allowances, chapter and public orders, people on a phone bank's list, its callers
and their calls) and again with three batches: a page must stay within LIMIT queries and cost the
same number both times. A query per row (N+1) shows as a count that grows with the rows. A streamed
answer (an export) is read to its end inside the count.

Each page is rendered once before it is measured: a first visit may create what it needs (the chat
creates a chapter's room on first need) and fill per-process caches (content types, the page cache).
"""

import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Invitation, User
from calls import services as calls_services
from calls.models import Call, Caller, Target
from calls.models import Campaign as CallCampaign
from calls.models import Outcome as CallOutcome
from calls.models import Question as CallQuestion
from chapters import services as chapter_services
from chapters.access import can, load_grants
from chapters.models import AuditEntry, Chapter, Membership, Role, RoleAssignment
from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.models import Message, Mute, Room
from events import services as event_services
from events.models import Event, Rsvp
from mailings import sending as mailing_sending
from mailings.models import Mailing, Recipient
from people import imports, merging, segments
from people import services as people_services
from people.models import Activity, Consent, CustomField, DuplicatePair, Merge, Person, PersonImport, Segment, Tag
from shop import services as shop_services
from shop.models import ChapterOrder, Product, PublicOrder, StockMove
from tests.security.routes import build, http_routes

LIMIT = 10

# Every request of a signed-in member costs 4 queries before the view runs: `SET search_path` to
# the organisation's schema (its host is looked up once, then cached: tenancy/hosts.py), the
# session, the user, and their grants (chapters.access, read once per request). By route name,
# (limit, why) for what may cost more, none of it a query per row:
LIMITS = {
    "personal_data": (
        23,
        "not a page but the personal-data download (a file): it gathers what each app holds about the "
        "person, one query per kind of record (addresses, memberships, roles, audit entries, chat "
        "messages and the members of their conversations, reports, public and chapter orders, sign-ups, "
        "and their record in the supporter base: its addresses, numbers, tags, chapters, consents, timeline; "
        "their answers to events, the calls they made for phone banks and the banks they were invited to call for)",
    ),
    "people_segment_create": (
        13,
        "the builder lists what conditions can name: the chapters, tags, custom fields, other segments, "
        "the activities' targets and the owner's choices, one query each",
    ),
    "people_segment_edit": (14, "the builder's choices (see people_segment_create) and the segment itself"),
    "people_segment": (
        15,
        "a segment's page counts it, shows its first 50 people with their chapters, main address, number "
        "and tags (four queries whatever their number) and says its conditions in words (chapter, tag and "
        "segment names)",
    ),
    "people_segment_export": (13, "the XLSX export reads the people once, then their addresses, numbers and tags"),
    "people_duplicates": (12, "both people of each pair with their chapters, addresses, numbers and tags"),
    "people_merge": (12, "both people side by side with their addresses, numbers, tags and custom fields"),
    "person_detail": (
        13,
        "a person's page reads their addresses, numbers, tags, chapters, consent history, the custom "
        "fields and a page of their timeline (with its count): one query each",
    ),
    "people": (
        14,
        "each person's chapters, main address, main number and tags are read alongside the page (four "
        "queries, whatever the page's length), the chapter and tag filters list their choices, and the "
        "bulk form its custom fields",
    ),
    "call_campaign": (
        16,
        "a phone bank's page, for an organiser: the caller's call under way and count, the settings (is "
        "the leaderboard on?), and the bank's figures: where its list stands, its calls by outcome, the "
        "pace over the last minute and ten, who is on a call or called lately (two queries), its questions",
    ),
    "call_dashboard": (
        15,
        "the bank's figures (see call_campaign), the answers to its questions counted in one query, and "
        "the leaderboard",
    ),
}

# GET routes under /app/ that are not measured here, with the reason.
EXEMPT = {}

MEMBERS_PER_BATCH = 30
PEOPLE_PER_BATCH = 30
CALLERS_PER_BATCH = 5
CHAPTERS_PER_BATCH = 3


class Data:
    """Alpha's data, grown batch by batch; the first batch also creates the objects the URLs name."""

    def __init__(self, catalogue):
        self.catalogue = catalogue
        self.tree = catalogue.tree
        self.organiser = self.tree.people["organiser"].user
        self.coordinator = self.tree.people["coordinator"].user
        self.logistics = catalogue.logistics
        self.lille = self.tree.lille
        self.batches = 0
        shop_services.settings_save(
            actor=self.organiser, currency="EUR", collect_at_chapters=True, shop_contact="shop@alpha.example",
            publishable_key="", secret_key="", webhook_secret="",
        )  # fmt: skip
        today = timezone.localdate()
        self.allowance = shop_services.allowance_save(
            actor=self.logistics,
            chapter=self.lille,
            starts=today - datetime.timedelta(days=1),
            ends=today + datetime.timedelta(days=60),
            budget=10_000_000,
        )
        self.role = chapter_services.role_save(
            actor=self.organiser, name="Greeter", description="Welcomes", capabilities=["chapters.view_members"]
        )
        self.chapter_room = next(
            room for room in chat_selectors.rooms_for(self.organiser) if room.kind == Room.Kind.CHAPTER
            and room.chapter_id == self.lille.pk
        )  # fmt: skip

    def grow(self):
        """One more batch of every kind of row the member app lists."""
        batch = self.batches
        self.batches += 1
        organiser, lille = self.organiser, self.lille
        self.grow_people(batch)
        nord = Chapter.objects.get(slug="nord")
        chapters = [
            chapter_services.chapter_create(
                actor=organiser,
                parent=Chapter.objects.get(pk=nord.pk),
                name=f"Local {batch}-{number}",
                slug=f"local-{batch}-{number}",
                kind=Chapter.Kind.LOCAL,
            )  # fmt: skip
            for number in range(CHAPTERS_PER_BATCH)
        ]
        people = []
        for number in range(MEMBERS_PER_BATCH):
            person = User.objects.create_user(
                email=f"p{batch}-{number}@alpha.example",
                password="!",  # noqa: S106 - nobody signs in as them
                full_name=f"Person{batch}x{number} Dupont",
                city="Lille",
                phone=f"+33612{batch:02d}{number:04d}",
                skills=["graphisme"] if number % 2 else [],
                visibility=[User.Visibility.ORGANISATION, User.Visibility.CHAPTERS, User.Visibility.NOBODY][number % 3],
                show_email=number % 2 == 0,
            )
            people.append(person)
            if number < 20:  # members of Lille, the chapter the pages name
                chapter, status = lille, Membership.Status.ACTIVE
            elif number < 26:
                chapter, status = chapters[number % CHAPTERS_PER_BATCH], Membership.Status.ACTIVE
            else:
                chapter, status = lille, Membership.Status.REQUESTED
            Membership.objects.create(
                user=person, chapter=chapter, status=status, is_primary=True,
                started=timezone.now() if status == Membership.Status.ACTIVE else None,
            )  # fmt: skip
        coordinator_role = Role.objects.get(name="Chapter coordinator")
        for chapter, person in zip(chapters, people[20:23], strict=True):
            chapter_services.role_assign(actor=organiser, user=person, role=coordinator_role, chapter=chapter)
        chapter_services.role_assign(actor=organiser, user=people[0], role=self.role, chapter=lille)
        chapter_services.role_assign(
            actor=organiser, user=people[1], role=Role.objects.get(name="Moderator"), chapter=lille
        )

        for number in range(3):
            author = [organiser, self.coordinator, people[0]][number]
            chapter_services.announcement_post(
                actor=organiser if number == 2 else author, chapter=lille, title=f"News {batch}-{number}",
                body=f"**Batch {batch}**, item {number}: see [the site](https://example.org).",
            )  # fmt: skip
            self.document = chapter_services.document_share(
                actor=organiser, chapter=lille, title=f"Minutes {batch}-{number}",
                upload=SimpleUploadedFile(f"minutes-{batch}-{number}.txt", b"minutes", content_type="text/plain"),
            )  # fmt: skip
        chapter_services.invitations_send(
            actor=organiser,
            emails=[f"invitee{batch}-{number}@example.org" for number in range(4)],
            chapter=lille if batch % 2 else None,
            build_url=lambda token: f"http://alpha.localhost/accounts/invitation/{token}/",
            organisation_name="Alpha",
        )

        self.grow_calls(batch, people[:CALLERS_PER_BATCH])

        # The chat: messages by many people with reactions and mentions, topics, conversations.
        room = self.chapter_room
        for number, author in enumerate(people[:12]):
            body = f"Hello {number} from batch {batch}" + (" @Alice Martin" if number % 3 == 0 else "")
            message = chat_services.message_send(actor=author, room=room, body=body)
            for reactor in people[number : number + 2]:
                chat_services.reaction_toggle(actor=reactor, message=message, emoji="👍")
        self.message = message
        topic = chat_services.topic_create(
            actor=organiser, chapter=lille, name=f"Topic {batch}", audience=Room.Audience.SUBTREE
        )
        chat_services.message_send(actor=organiser, room=topic, body=f"Topic {batch} opens")
        invited = chat_services.topic_create(
            actor=organiser, chapter=lille, name=f"Private {batch}", audience=Room.Audience.INVITED,
            people=[person.pk for person in people[:4]],
        )  # fmt: skip
        chat_services.message_send(actor=people[0], room=invited, body="Between us")
        for pair in (people[3:5], people[5:6]):
            direct = chat_services.direct_open(actor=organiser, people=[person.pk for person in pair])
            chat_services.message_send(actor=pair[0], room=direct, body=f"Hi @{organiser.full_name}")
        chat_services.read_mark(actor=organiser, room=room, message_id=message.pk - 5)
        for reporter in people[6:8]:
            self.report = chat_services.report_file(
                actor=reporter, message=self.message, reason="spam", note=f"report {batch}"
            )
        chat_services.mute_impose(actor=organiser, room=room, user=people[8], minutes=chat_services.MUTE_MINUTES[0])
        self.mute = Mute.objects.get(room=room, user=people[8])

        # The shop: a product, stock, orders from chapters and from the public, allowances.
        shirt = shop_services.product_save(
            actor=self.logistics,
            product=Product(name=f"Shirt {batch}", slug=f"shirt-{batch}", price=1000 + batch, public=True),
            variants=[("S", "red"), ("M", "red"), ("L", "blue")],
        )
        self.product = shirt
        variants = list(shirt.variants.select_related("product"))
        for variant in variants:
            shop_services.stock_receive(
                actor=self.logistics, variant=variant, location=self.catalogue.warehouse, quantity=100
            )
        today = timezone.localdate()
        for chapter in chapters:
            shop_services.allowance_save(
                actor=self.logistics, chapter=chapter, starts=today, ends=today + datetime.timedelta(days=30),
                budget=50_000, units=100,
            )  # fmt: skip
            shop_services.stock_transfer(
                actor=self.logistics, variant=variants[0], source=self.catalogue.warehouse,
                target=shop_services.chapter_location(chapter), quantity=2,
            )  # fmt: skip
        for variant in variants[1:]:  # Lille's own stock, on its stock page
            shop_services.stock_transfer(
                actor=self.logistics, variant=variant, source=self.catalogue.warehouse,
                target=shop_services.chapter_location(lille), quantity=3,
            )  # fmt: skip
        orders = []
        for number in range(3):
            orders.append(
                shop_services.chapter_order_request(
                    actor=self.coordinator,
                    chapter=lille,
                    note=f"For the market {batch}-{number}",
                    lines=[(variants[number], 2), (self.catalogue.poster, 1)],
                )  # fmt: skip
            )
        shop_services.chapter_order_approve(actor=self.logistics, order=orders[0])
        shop_services.chapter_order_request(
            actor=organiser, chapter=chapters[0], lines=[(variants[1], 1)], note="From a new chapter"
        )
        self.chapter_order = orders[1]
        for number in range(3):
            self.public_order = shop_services.public_order_place(
                lines=[(variant, 1) for variant in variants[: number + 1]], payment=PublicOrder.Payment.COLLECT,
                collect_chapter=lille, full_name=f"Buyer {batch}-{number}", email=f"buyer{batch}-{number}@example.org",
            )  # fmt: skip

    def grow_people(self, batch):
        """Supporters of Lille with contacts, tags, consents, notes and a custom field value."""
        field = CustomField.objects.get_or_create(key="availability", defaults={"name": "Availability"})[0]
        for number in range(PEOPLE_PER_BATCH):
            person, _created = people_services.person_record(
                source="manual",
                email=f"supporter{batch}-{number}@example.org",
                phone=f"+336{batch:02d}{number:06d}",
                full_name=f"Supporter {batch}-{number}",
                chapter=self.lille,
            )
            people_services.tags_set(actor=self.organiser, person=person, names=[f"tag-{batch}", f"tag-{number}"])
            people_services.consent_record(
                person=person, channel="email", purpose="news", status="granted", basis="explicit_consent",
                wording="Yes", source="form",
            )  # fmt: skip
            people_services.note_add(actor=self.organiser, person=person, text=f"Note {batch}")
            person.fields = {field.key: "weekends"}
            person.save(update_fields=["fields"])
            if batch == 0 and number == 0:
                self.person, self.custom_field = person, field
        people_services.note_add(actor=self.organiser, person=self.person, text=f"Another note {batch}")
        self.grow_people_tools(batch)
        people_services.consent_record(
            person=self.person, channel="sms", purpose="news", status="granted" if batch % 2 else "withdrawn",
            basis="explicit_consent", wording="Yes", source="form", by_person=True,
        )  # fmt: skip

    def grow_people_tools(self, batch):
        """A segment, an import, a pair of likely duplicates and a merge per batch."""
        tag = Tag.objects.get(name=f"tag-{batch}")
        segment = segments.segment_save(
            actor=self.organiser, name=f"Segment {batch}", chapter=self.lille,
            definition={"all": [{"type": "tags", "tags": [tag.pk], "match": "any"}]},
        )  # fmt: skip
        lines = "email,nom\n" + "".join(f"import{batch}-{n}@example.org,Imported {n}\n" for n in range(5))
        person_import = imports.import_upload(
            actor=self.organiser, chapter=self.lille, uploaded=SimpleUploadedFile(f"people-{batch}.csv", lines.encode())
        )
        twins = [
            people_services.person_record(
                source="manual", email=f"twin{batch}-{n}@example.org", full_name=f"Twin Person{batch}",
                postcode="59000", chapter=self.lille,
            )[0]
            for n in range(4)
        ]  # fmt: skip
        first, second = twins[0], twins[1]
        pair = DuplicatePair.objects.create(person_a=first, person_b=second, reason="name_postcode")
        merge = merging.person_merge(actor=self.organiser, kept=twins[2], merged=twins[3])
        mailing = mailing_sending.mailing_save(
            actor=self.organiser, chapter=self.lille, segment=segment, purpose="news", language="fr",
            subject=f"Mailing {batch}", blocks=[{"type": "text", "markdown": "Hello {first_name}"}],
        )  # fmt: skip
        for twin in twins:  # a mailing being sent: its page counts its recipients by outcome
            Recipient.objects.create(
                mailing=self.mailing if batch else mailing, person=twin, address=f"{twin.pk}@x.org"
            )
        if batch == 0:
            self.segment, self.person_import, self.pair, self.merge = segment, person_import, pair, merge
            self.mailing = mailing
        self.grow_events(batch, twins)

    def grow_events(self, batch, people):
        """An event of Lille's per batch, with two timeslots; every batch's people answer the first
        event (some checked in, one waiting, one cancelled), and this batch's event."""
        start = timezone.now() + datetime.timedelta(days=2 + batch)
        event = event_services.event_save(
            actor=self.organiser, chapter=self.lille, title=f"Event {batch}", capacity=len(people) * 3,
            slots=[(start, start + datetime.timedelta(hours=2)), (start + datetime.timedelta(hours=3),
                   start + datetime.timedelta(hours=5))],
        )  # fmt: skip
        if batch == 0:
            self.event = event
        for target in {self.event, event}:
            slot = target.timeslots.first()
            for number, person in enumerate(people):
                status = "waiting" if number == 3 else "cancelled" if number == 2 else "going"
                Rsvp.objects.create(
                    timeslot=slot, person=person, status=status, source="public", name=person.full_name,
                    email=f"{person.pk}@x.org", confirmed_at=timezone.now(),
                    checked_in_at=timezone.now() if number == 0 else None,
                )  # fmt: skip

    def grow_calls(self, batch, callers):
        """Lille's phone bank, for the callers it invites: the batch's supporters agree to be phoned
        and join its list, members of the batch are invited and each makes two calls (every outcome,
        the answered ones with an answer to each question); the organiser has a call under way."""
        if batch == 0:
            segment = segments.segment_save(
                actor=self.organiser, name="Callable", chapter=self.lille, definition={"all": []}
            )
            self.call_campaign = calls_services.campaign_save(
                actor=self.organiser, chapter=self.lille, segment=segment, title="Phone bank", description="Call them",
                purpose="news", script="Hello {first_name}, I am {caller} of {chapter}.",
                calling_from=datetime.time(0, 0), calling_until=datetime.time(23, 59, 59, 999999),
                calling_days=[1, 2, 3, 4, 5, 6, 7], cooldown_hours=4, max_attempts=3,
                callers=CallCampaign.Callers.INVITED, starts=timezone.localdate(), ends=None,
            )  # fmt: skip
            self.call_questions = [
                calls_services.question_add(
                    actor=self.organiser,
                    campaign=self.call_campaign,
                    kind=kind,
                    text=f"Question {kind}",
                    choices=calls_services.parse_choices("Housing\nTransport\nOther"),
                    tag="yes-tag",
                )
                for kind in CallQuestion.Kind.values
            ]
        campaign = self.call_campaign
        for person in Person.objects.filter(full_name__startswith=f"Supporter {batch}-"):
            people_services.consent_record(
                person=person, channel="phone", purpose="news", status="granted", basis="explicit_consent",
                wording="Yes", source="form",
            )  # fmt: skip
        calls_services.campaign_open(actor=self.organiser, campaign=campaign)
        campaign.refresh_from_db()
        said = {"choice": "Housing", "scale": "4", "yes_no": "yes", "text": "Fine"}
        answers = {str(question.pk): said[question.kind] for question in self.call_questions}
        outcomes = iter(CallOutcome.values * 2)
        for caller in callers:
            self.caller = calls_services.caller_invite(actor=self.organiser, campaign=campaign, user=caller)
            for _attempt in range(2):
                call = calls_services.call_next(actor=caller, campaign=campaign)
                calls_services.call_reveal(actor=caller, call=call)
                outcome = next(outcomes)
                calls_services.call_record(
                    actor=caller, call=call, outcome=outcome, answers=answers if outcome == "answered" else {},
                    call_back_at=timezone.now() + datetime.timedelta(days=1), note=f"Note {batch}",
                )  # fmt: skip
        if batch == 0:
            self.call = calls_services.call_next(actor=self.organiser, campaign=campaign)

    def arguments(self):
        """The value of each URL parameter, by name; `by_route` where a name means something else."""
        common = {
            "slug": self.lille.slug,
            "room_id": str(self.chapter_room.pk),
            "message_id": str(self.message.pk),
            "report_id": str(self.report.pk),
            "mute_id": str(self.mute.pk),
            "reference": self.chapter_order.reference,
            "pk": "0",  # the routes that name another object by pk are POST-only, or listed below
            "rsvp_pk": "0",
            "event_pk": str(self.event.pk),
        }
        by_route = {
            "role_edit": {"pk": self.role.pk},
            "document_download": {"pk": self.document.pk},
            "shop_product_edit": {"pk": self.product.pk},
            "shop_allowance_edit": {"pk": self.allowance.pk},
            "shop_public_order": {"reference": self.public_order.reference},
            "person_detail": {"pk": self.person.pk},
            "person_edit": {"pk": self.person.pk},
            "people_field_edit": {"pk": self.custom_field.pk},
            **{
                name: {"pk": self.segment.pk}
                for name in ("people_segment", "people_segment_edit", "people_segment_delete", "people_segment_export")
            },
            **{
                name: {"pk": self.person_import.pk}
                for name in (
                    "people_import_map",
                    "people_import_detail",
                    "people_import_progress",
                    "people_import_rejections",
                )
            },
            "people_merge": {"pk": self.pair.pk},
            **{
                name: {"pk": self.mailing.pk}
                for name in ("mailing", "mailing_edit", "mailing_preview", "mailing_count")
            },
            **{
                name: {"pk": self.event.pk}
                for name in (
                    "event",
                    "event_edit",
                    "event_cancel",
                    "event_attendees",
                    "event_report",
                    "event_member_ics",
                )
            },
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
            "call_question_delete": {"pk": self.call_campaign.pk, "question_pk": self.call_questions[0].pk},
            "call_caller_remove": {"pk": self.call_campaign.pk, "caller_pk": self.caller.pk},
            **{
                name: {"pk": self.call_campaign.pk, "call_pk": self.call.pk}
                for name in ("call_page", "call_keep", "call_release")
            },
        }
        return common, {name: {key: str(value) for key, value in values.items()} for name, values in by_route.items()}


# The query string a page needs (the chapter a new chapter goes under, what to do with a phone bank).
REQUIRED = {"chapter_create": "?parent={slug}", "call_campaign_status": "?action=pause"}

# Query strings worth measuring besides the bare page: searches, filters, second pages, exports.
EXTRA = {
    "chapter_list": ["?archived=1"],
    "directory": ["?q=dupont", "?chapter=lille", "?q=person&skill=graphisme", "?page=2"],
    "chat_people": ["?q=person", "?q=person&room={room_id}"],
    "chat_events": ["?after=0"],
    "chat_moderation": ["?show=handled"],
    "shop_chapter_orders": ["?status=requested"],
    "shop_public_orders": ["?status=to_collect"],
    "shop_stock_ledger": ["?page=2"],
    "shop_report": ["?format=csv"],
    "audit_log": ["?page=2"],
    "people": ["?q=supporter", "?chapter=lille", "?tag=tag-1", "?member=no", "?page=2"],
    "person_detail": ["?page=2"],
    "events": ["?when=past", "?show=mine", "?page=2"],
    "event_create": ["?copy={event_pk}"],
    "event_attendees": ["?q=twin"],
    "events_stats": ["?chapter=lille"],
    "calls": ["?page=2"],
    "call_callers": ["?page=2"],
    "call_campaign_status": ["?action=close"],
}


def app_paths(data):
    """(label, path) of every GET-able URL of the member app, with its parameters filled in."""
    common, by_route = data.arguments()
    found = []
    for route in http_routes():
        if route.urlconf != "tenant" or not route.route.startswith("/app/") or route.name in EXEMPT:
            continue
        values = {**common, **by_route.get(route.name, {})}
        choices = [dict(zip(route.choices, combo, strict=True)) for combo in _combinations(route.choices)]
        for chosen in choices:
            path = build(route, {**values, **chosen})
            assert path is not None, f"{route}: no value for one of {route.parameters}; add it to Data.arguments"
            path += REQUIRED.get(route.name, "").format(**common)
            label = route.name + "".join(f"[{value}]" for value in chosen.values())
            found.append((label, route.name, path))
            for query in EXTRA.get(route.name, []):
                found.append((label + query, route.name, _join(path, query.format(**common))))
    return found


def _join(path, query):
    return path + ("&" + query[1:] if "?" in path else query)


def _combinations(choices):
    combos = [()]
    for options in choices.values():
        combos = [(*combo, option) for combo in combos for option in options]
    return combos


def fetch(client, path):
    """The page, with the whole of a streamed answer read (an export's rows are read as it streams)."""
    response = client.get(path)
    if response.streaming:
        response.streamed = b"".join(response.streaming_content)
    return response


def measure(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = fetch(client, path)
    return response, len(captured)


def test_every_member_app_page_costs_a_bounded_number_of_queries(catalogue, django_assert_max_num_queries, settings):
    # The organiser's call stays theirs however long the run takes (a lapsed lease would give the
    # person to the next batch's callers, and the call page would send the organiser back).
    settings.CALLS_LEASE_SECONDS = 24 * 3600
    client = catalogue.tree.people["organiser"].client()
    with schema_context("alpha"):
        data = Data(catalogue)
        initial = _rows()
        data.grow()
    paths = app_paths(data)
    assert len({name for _label, name, _path in paths}) > 40, "the member app's routes were not found"

    # One batch: each page once to warm up (and to sort out the POST-only routes), then measured.
    once, post_only = {}, []
    for label, _name, path in paths:
        response = client.get(path)
        if response.status_code == 405:
            post_only.append(label)
            continue
        assert response.status_code == 200, f"{label} {path}: {response.status_code}; exempt it with a reason?"
        response, once[label] = measure(client, path)
        assert response.status_code == 200, (label, path)
    assert "membership_approve" in post_only  # the 405s are the POST-only routes
    assert "chat_read" in post_only

    with schema_context("alpha"):
        before = _rows()
        data.grow()
        data.grow()
        after = _rows()
    assert all(after[kind] - initial[kind] >= 2 * (before[kind] - initial[kind]) > 0 for kind in after), (
        initial,
        before,
        after,
    )

    # Three batches: within the limit, and the same count as with one.
    thrice = {}
    for label, name, path in paths:
        if label in post_only:
            continue
        client.get(path)
        limit = LIMITS.get(name, (LIMIT, ""))[0]
        with django_assert_max_num_queries(limit, info=f"{label} {path}") as captured:
            response = fetch(client, path)
        assert response.status_code == 200, (label, path)
        thrice[label] = len(captured)
        print(f"{label:<48}{once[label]:>4}{thrice[label]:>4}")
    grown = {label: (once[label], thrice[label]) for label in thrice if thrice[label] != once[label]}
    assert not grown, f"queries grow with the data (1 batch, 3 batches): {grown}"


def _rows():
    """How many rows of each kind the pages list."""
    return {
        "members of Lille": Membership.objects.filter(chapter__slug="lille").count(),
        "chapters": Chapter.objects.count(),
        "role assignments": RoleAssignment.objects.count(),
        "invitations": Invitation.objects.count(),
        "messages": Message.objects.count(),
        "rooms": Room.objects.count(),
        "chapter orders": ChapterOrder.objects.count(),
        "public orders": PublicOrder.objects.count(),
        "stock moves": StockMove.objects.count(),
        "audit entries": AuditEntry.objects.count(),
        "people": Person.objects.count(),
        "activities": Activity.objects.count(),
        "consents": Consent.objects.count(),
        "segments": Segment.objects.count(),
        "imports": PersonImport.objects.count(),
        "likely duplicates": DuplicatePair.objects.count(),
        "merges": Merge.objects.count(),
        "mailings": Mailing.objects.count(),
        "recipients": Recipient.objects.count(),
        "events": Event.objects.count(),
        "answers": Rsvp.objects.count(),
        "people on a phone bank's list": Target.objects.count(),
        "calls": Call.objects.count(),
        "invited callers": Caller.objects.count(),
    }


def test_the_exemptions_and_limits_name_real_routes():
    names = {route.name for route in http_routes() if route.route.startswith("/app/")}
    assert set(EXEMPT) <= names
    assert set(LIMITS) <= names
    assert all(limit > LIMIT and reason for limit, reason in LIMITS.values())


def test_grants_read_together_are_each_persons_own(tree, django_assert_num_queries):
    """load_grants reads several people's grants in one query, and each person gets their own."""
    names = ["organiser", "coordinator", "parent_coordinator", "lille_member", "other_chapter_member"]
    checks = [
        (capability, chapter)
        for capability in ["chapters.manage_members", "chapters.read_chapter_space", "chat.post"]
        for chapter in [tree.national, tree.nord, tree.lille, tree.lille_centre, tree.roubaix, None]
    ]
    with schema_context("alpha"):
        one_by_one = {name: User.objects.get(pk=tree.people[name].user.pk) for name in names}
        together = {name: User.objects.get(pk=tree.people[name].user.pk) for name in names}
        with django_assert_num_queries(1):
            load_grants(list(together.values()))
            answers = {name: [can(user, *check) for check in checks] for name, user in together.items()}
        assert answers == {name: [can(user, *check) for check in checks] for name, user in one_by_one.items()}
    assert answers["coordinator"] != answers["lille_member"] != answers["other_chapter_member"]
    assert all(answers["organiser"])


def test_the_menu_links_to_the_site_editor_for_whoever_may_enter_it(tree):
    """The "Edit the site" entry, read from the capabilities, agrees with Wagtail's own check (the
    groups cms/permissions.py keeps in step with the roles)."""
    founder = tree.people["organiser"].user
    with schema_context("alpha"):
        amiens = chapter_services.chapter_create(
            actor=founder, parent=tree.national, name="Amiens", slug="amiens", kind=Chapter.Kind.LOCAL
        )
        coordinator = tree.person("amiens_coordinator", member_of=amiens)
        chapter_services.role_assign(
            actor=founder, user=coordinator, role=Role.objects.get(name="Chapter coordinator"), chapter=amiens
        )
    for name, shown in [("organiser", True), ("amiens_coordinator", True), ("lille_member", False)]:
        persona = tree.people[name]
        with schema_context("alpha"):
            user = User.objects.get(pk=persona.user.pk)
            assert user.has_perm("wagtailadmin.access_admin") is shown, name
        page = persona.client().get("/app/profile/").content.decode()
        assert ('href="/cms/"' in page) is shown, name
