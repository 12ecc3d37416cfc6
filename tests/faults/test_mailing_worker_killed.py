"""A mailing's worker killed (SIGKILL: no handler runs) while the provider holds a batch it has
accepted but not yet answered (Brevo's batch API: the batch is one request): another worker takes
over, nobody receives the mailing twice, and what the killed worker was handing over is reported
as outcome unknown, not sent again."""

from collections import Counter

from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from mailings import sending
from mailings.brevo_fake import FakeBrevo
from mailings.models import Mailing, Recipient
from people import services as people_services
from tests.faults.servers import wait_until

KEY = "xkeysib-faults"
PEOPLE = 7


def _mailing_sent(mailing_id):
    with schema_context("alpha"):
        mailing = Mailing.objects.get(pk=mailing_id)
        return mailing if mailing.status == Mailing.Status.SENT else None


def test_a_mailing_whose_worker_is_killed_in_mid_batch_reaches_nobody_twice(private_db, processes):
    brevo = FakeBrevo([KEY]).start()
    try:
        with schema_context("alpha"):
            organiser = User.objects.get(email="founder@alpha.example")
            for number in range(PEOPLE):
                person, _created = people_services.person_record(
                    source="manual", email=f"killed.{number}@example.org", full_name=f"Killed {number}", chapter=None
                )
                people_services.consent_record(
                    person=person, channel="email", purpose="news", status="granted",
                    basis="explicit_consent", wording="Yes", source="form",
                )  # fmt: skip
            mailing = sending.mailing_save(
                actor=organiser, chapter=None, segment=None, purpose="news", language="en",
                subject="Killed {first_name}", blocks=[{"type": "text", "markdown": "Hello"}],
            )  # fmt: skip
            sending.mailing_send(actor=organiser, mailing=mailing, base_url="http://alpha.localhost/")
        env = {
            "MAILINGS_PROVIDER": "brevo",
            "ANYMAIL_BREVO_API_KEY": KEY,
            "ANYMAIL_BREVO_API_URL": brevo.url + "/v3/",
            "MAILINGS_BATCH_SIZE": "3",
            "MAILINGS_FROM_EMAIL": "mailings@relais.example",
            "MAILINGS_RATE_PER_SECOND": "1000000",
        }
        brevo.hold()  # the first message: accepted by the provider, not yet answered
        first = processes.worker("mailer-a", **env)
        assert brevo.holding.wait(timeout=30), f"worker A sent nothing:\n{first.log()}"
        first.kill()
        brevo.release()
        second = processes.worker("mailer-b", **env)
        wait_until(
            lambda: _mailing_sent(mailing.pk), timeout=60, message=f"the mailing did not finish:\n{second.log()}"
        )
        second.stop()
        delivered = Counter(message.email for message in brevo.messages)
    finally:
        brevo.stop()

    with schema_context("alpha"):
        rows = list(Recipient.objects.filter(mailing=mailing).order_by("id"))
        statuses = Counter(row.status for row in rows)
        assert len(rows) >= PEOPLE
        # Nobody twice.
        assert max(delivered.values()) == 1, delivered
        # What worker A was handing over (batch 1, one request to Brevo, which the provider took
        # but had not answered) is reported unknown, and was not sent again.
        unknown = [row for row in rows if row.status == "unknown"]
        assert {row.batch for row in unknown} == {1}
        assert len(unknown) == 3
        assert all(row.sent is None for row in unknown)
        assert {row.address for row in unknown} <= set(delivered)
        # Everyone else received it once, sent by worker B.
        assert set(statuses) == {"sent", "unknown"}
        assert set(delivered) == {row.address for row in rows}
        assert all(row.sent <= timezone.now() and row.message_id for row in rows if row.status == "sent")
        counts = sending.counts(Mailing.objects.get(pk=mailing.pk))
        assert (counts["unknown"], counts["remaining"]) == (3, 0)
