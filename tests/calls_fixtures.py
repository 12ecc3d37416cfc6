"""Phone banks for the tests, around the chapter tree of chapters_fixtures: people with numbers who
agreed (or not) to be phoned, Lille's campaign over them, and a committed bank for the tests whose
other connections (racing threads, the websocket's worker threads) must see it.

Lille's bank (`bank`), opened by Lille's coordinator, calling all day every day:

name    number           consents        in the list?
Ana     +33611000001     phone:news      yes
Bruno   +33611000002     phone:news      yes (Lille Centre, below Lille)
Chloé   +33611000003     phone:news      yes
Dan     +33611000004     phone:news      yes
Eve     +33611000005     phone:events    no: another purpose
Fanny   (none)           phone:news      no: no number
Gaby    +33611000007     phone:news      no: Roubaix, outside the chapter
"""

import datetime
import uuid
import zoneinfo

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from calls import services
from calls.models import Campaign, Question, WrongNumber
from chapters.access import forget_grants
from chapters.models import AuditEntry, Chapter, Membership
from people import services as people_services
from people.models import Consent, CustomField, Person, PersonPhone, Segment, Tag
from tests.conftest import PASSWORD

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# Calling hours that are open whenever a test runs (but for the last microsecond of a day).
ALL_DAY = {
    "calling_from": datetime.time(0, 0),
    "calling_until": datetime.time(23, 59, 59, 999999),
    "calling_days": [1, 2, 3, 4, 5, 6, 7],
}
PHONE_GRANT = {"status": "granted", "basis": "explicit_consent", "wording": "Volunteers may phone me", "source": "form"}
SCRIPT = "Hello {first_name}, I am {caller} from {chapter}. How are things in {commune}?"


def phoned(name, number="", chapter=None, *, purposes=("news",), commune=""):
    """A person of `chapter` with `number` (none if empty), who agreed to be phoned for `purposes`."""
    person, _created = people_services.person_record(
        source="manual", phone=number, full_name=name, chapter=chapter, commune=commune
    )
    for purpose in purposes:
        people_services.consent_record(person=person, channel="phone", purpose=purpose, **PHONE_GRANT)
    person.refresh_from_db()
    return person


def second_number(person, number, *, primary=False):
    """Another number of the person's (the first one stays primary unless `primary`)."""
    if primary:
        person.phones.update(is_primary=False)
    return PersonPhone.objects.create(person=person, number=number, is_mobile=True, is_primary=primary)


def withdraw(person, purpose="news"):
    """The person asks not to be phoned for the purpose any more."""
    people_services.consent_record(
        person=person, channel="phone", purpose=purpose, status="withdrawn", basis="person_request", source="link"
    )
    person.refresh_from_db()


def segment_of(chapter, name=None):
    """A segment of everyone in the chapter and below (the campaign keeps those it may call)."""
    return Segment.objects.create(
        name=name or f"Everyone in {chapter.name}",
        chapter=chapter,
        definition={"all": [{"type": "chapters", "chapters": [chapter.pk]}]},
    )


def campaign_make(actor, chapter, segment=None, **values):
    """A draft campaign through the service, open all day every day unless `values` say otherwise."""
    forget_grants(actor)
    fields = {
        "title": "Call the supporters",
        "description": "Before Thursday's meeting.",
        "purpose": "news",
        "script": SCRIPT,
        **ALL_DAY,
        "cooldown_hours": 4,
        "max_attempts": 3,
        "callers": Campaign.Callers.MEMBERS,
        "starts": timezone.localdate(),
    }
    fields.update(values)
    segment = segment or segment_of(chapter, f"{fields['title']} ({chapter.name})")
    return services.campaign_save(actor=actor, chapter=chapter, segment=segment, **fields)


def opened(actor, campaign):
    """The campaign with its list frozen and open to callers."""
    services.campaign_open(actor=actor, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def add_questions(actor, campaign):
    """Four questions: a yes/no that tags, a choice that tags, a scale, a free text. Returns them by name."""
    return {
        "meeting": services.question_add(
            actor=actor, campaign=campaign, kind=Question.Kind.YES_NO, text="Will you come on Thursday?",
            tag="thursday meeting",
        ),
        "topic": services.question_add(
            actor=actor, campaign=campaign, kind=Question.Kind.CHOICE, text="What matters most to you?",
            choices=services.parse_choices("Housing -> housing\nTransport -> transport\nOther"),
        ),
        "keen": services.question_add(
            actor=actor, campaign=campaign, kind=Question.Kind.SCALE, text="How keen are you to help?"
        ),
        "said": services.question_add(
            actor=actor, campaign=campaign, kind=Question.Kind.TEXT, text="Anything else?"
        ),
    }  # fmt: skip


def answers_of(questions, **given):
    """The posted answers {question id: text} from {question name: text}."""
    return {str(questions[name].pk): value for name, value in given.items()}


class Bank:
    """Lille's phone bank (see the module's docstring), opened by Lille's coordinator."""

    NUMBERS = {
        "ana": "+33611000001",
        "bruno": "+33611000002",
        "chloe": "+33611000003",
        "dan": "+33611000004",
        "eve": "+33611000005",
        "gaby": "+33611000007",
    }

    def __init__(self, tree):
        self.tree = tree
        self.coordinator = tree.people["coordinator"].user
        self.ana = phoned("Ana Martin", self.NUMBERS["ana"], tree.lille, commune="Lille")
        self.bruno = phoned("Bruno Martin", self.NUMBERS["bruno"], tree.lille_centre)
        self.chloe = phoned("Chloé Martin", self.NUMBERS["chloe"], tree.lille)
        self.dan = phoned("Dan Martin", self.NUMBERS["dan"], tree.lille)
        self.eve = phoned("Eve Martin", self.NUMBERS["eve"], tree.lille, purposes=["events"])
        self.fanny = phoned("Fanny Martin", "", tree.lille)
        self.gaby = phoned("Gaby Martin", self.NUMBERS["gaby"], tree.roubaix)
        self.called = [self.ana, self.bruno, self.chloe, self.dan]
        self.segment = segment_of(tree.lille, "Lille phones")
        self.campaign = campaign_make(self.coordinator, tree.lille, self.segment)
        self.questions = add_questions(self.coordinator, self.campaign)
        self.campaign = opened(self.coordinator, self.campaign)

    def number_of(self, person):
        return person.phones.get(is_primary=True).number


@pytest.fixture
def bank(tree):
    with schema_context("alpha"):
        return Bank(tree)


class CommittedBank:
    """A phone bank committed in alpha, for tests whose other connections must see it (racing
    threads, the websocket consumer's worker threads), and its removal afterwards.

    A chapter of its own under the national one, with `size` people who agreed to be phoned,
    `callers` members of the chapter, an outsider member of a sibling chapter; the campaign is
    the founder's (a national organiser), open all day, with the four questions of add_questions."""

    def __init__(self, size, callers):
        self.started = timezone.now()
        self.tag = uuid.uuid4().hex[:8]
        self.counts = self._counts()
        self.founder = User.objects.get(email="founder@alpha.example")
        national = Chapter.objects.get(slug="national")
        self.chapter = national.add_child(name=f"Calls {self.tag}", slug=f"calls-{self.tag}")
        self.elsewhere = Chapter.objects.get(pk=national.pk).add_child(
            name=f"Elsewhere {self.tag}", slug=f"calls-{self.tag}-elsewhere"
        )
        self.callers = [self._member(f"caller{n}", self.chapter) for n in range(callers)]
        self.outsider = self._member("outsider", self.elsewhere)
        self.people = [
            phoned(f"Callee {n} {self.tag}", f"+3362{self.tag_digits}{n:03d}", self.chapter) for n in range(size)
        ]
        self.campaign = campaign_make(self.founder, self.chapter, segment_of(self.chapter), title=f"Race {self.tag}")
        self.questions = add_questions(self.founder, self.campaign)
        self.campaign = opened(self.founder, self.campaign)

    @property
    def tag_digits(self):
        """Four digits of the tag, so that two committed banks never share a number."""
        return f"{int(self.tag, 16) % 10_000:04d}"

    def _member(self, name, chapter):
        user = User.objects.create_user(
            email=f"{name}.{self.tag}@example.org", password=PASSWORD, full_name=f"{name.title()} {self.tag}"
        )
        Membership.objects.create(
            user=user, chapter=chapter, status=Membership.Status.ACTIVE, is_primary=True, started=timezone.now()
        )
        return user

    @staticmethod
    def _counts():
        return tuple(
            model.objects.count()
            for model in (Campaign, Person, User, Chapter, Membership, Segment, Tag, WrongNumber, AuditEntry, Consent)
        )

    def remove(self):
        chapters = [self.chapter.pk, self.elsewhere.pk]
        users = [*self.callers, self.outsider]
        Campaign.objects.filter(chapter__in=chapters).delete()  # its list, calls, reveals, questions
        Segment.objects.filter(chapter__in=chapters).delete()
        Person.objects.filter(pk__in=[person.pk for person in self.people]).delete()
        Person.objects.filter(user__in=users).delete()
        Membership.objects.filter(chapter__in=chapters).delete()
        User.objects.filter(pk__in=[user.pk for user in users]).delete()
        Chapter.objects.filter(pk__in=chapters).delete()
        Tag.objects.filter(created__gte=self.started).delete()
        CustomField.objects.filter(created__gte=self.started).delete()
        WrongNumber.objects.filter(created__gte=self.started).delete()
        AuditEntry.objects.filter(created__gte=self.started).delete()
        assert self._counts() == self.counts, "the bank left nothing behind"


@pytest.fixture
def committed_bank(organisations, django_db_blocker):
    """`committed_bank(size, callers)`: a CommittedBank, removed at the end of the test."""
    made = []

    def make(size, callers):
        bank = CommittedBank(size, callers)
        made.append(bank)
        return bank

    with django_db_blocker.unblock(), schema_context("alpha"):
        yield make
        for bank in made:
            bank.remove()
