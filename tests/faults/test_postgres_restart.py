"""PostgreSQL restarted under traffic: the requests in flight get a clean 503 page at once, so do
those that arrive while it is down, and the next ones succeed, without restarting the web stack or the
task worker."""

import time
from concurrent.futures import ThreadPoolExecutor

import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Invitation
from accounts.tasks import send_invitation_email
from config.errors import handler500
from tests.faults.servers import wait_until

PAGE = "/accounts/login/"
IN_FLIGHT = 4


# A member's request reads their session first thing: its cookie (a session that does not exist
# is still looked up), so that every request below needs the database.
SESSION = {settings.SESSION_COOKIE_NAME: "s" * 32}


def get(web, path=PAGE):
    return requests.get(web.url + path, headers={"Host": "alpha.localhost"}, cookies=SESSION, timeout=30)


def unavailable(response):
    """The clean answer to a database outage: 503, the page that says to try again, a retry hint."""
    return (
        response.status_code == 503
        and "Try again in a moment" in response.text
        and response.headers.get("Retry-After", "").isdigit()
    )


def test_a_restart_fails_the_requests_in_flight_cleanly_and_the_next_ones_succeed(private_db, processes, smtp):
    web = processes.web()
    worker = processes.worker("worker-restart", EMAIL_URL=smtp.url)
    before = get(web)
    assert before.status_code == 200
    assert "csrfmiddlewaretoken" in before.text

    # Requests in flight when the server goes: each reads its session (the organisation of the
    # host is cached by now, tenancy/hosts.py), and waits there behind a lock this test holds.
    blocker = private_db.connect()
    blocker.execute("LOCK TABLE alpha.django_session IN ACCESS EXCLUSIVE MODE")
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        in_flight = [pool.submit(get, web) for _ in range(IN_FLIGHT)]
        wait_until(
            lambda: private_db.waiting_for_locks() >= IN_FLIGHT,
            timeout=20,
            message="the requests did not reach the database",
        )
        stopped = time.monotonic()
        # Immediate shutdown, as in a crash: every connection is cut at once. (A fast shutdown ends the
        # test's lock first, and a waiting request could take it and be served before its own
        # connection went: a 200 where the test expects the outage page, once in a CI run.)
        private_db.stop(mode="immediate")
        answers = [future.result(timeout=30) for future in in_flight]
    answered_within = time.monotonic() - stopped
    blocker.close()

    assert [answer.status_code for answer in answers] == [503] * IN_FLIGHT
    assert all(unavailable(answer) for answer in answers), answers[0].text[:500]
    assert answered_within < 10

    # While it is down: a clean 503 at once, and the health check says why.
    started = time.monotonic()
    down = get(web)
    assert unavailable(down), down.text[:500]
    assert time.monotonic() - started < 5
    health = get(web, "/healthz")
    assert (health.status_code, health.json()) == (503, {"status": "unavailable", "database": "down"})

    private_db.start()
    connection.close()  # the test's own connection went with the server
    after = [get(web) for _ in range(3)]
    assert [answer.status_code for answer in after] == [200] * 3
    assert all("csrfmiddlewaretoken" in answer.text for answer in after)
    assert get(web, "/healthz").json() == {"status": "ok", "database": "up"}
    assert web.running(), "the web stack rode the restart out"
    assert worker.running(), f"the worker rode the restart out:\n{worker.log()}"

    # The worker lost its connection in the middle of its polling, and still runs new tasks.
    with schema_context("alpha"):
        invitation = Invitation.objects.create(
            email="after.restart@alpha.example", expires=timezone.now() + timezone.timedelta(days=1)
        )
        send_invitation_email.enqueue(invitation.pk, "http://alpha.localhost/x/", "Alpha", "en")
    wait_until(lambda: smtp.accepted, timeout=30, message=f"no mail after the restart:\n{worker.log()}")
    assert [message["To"] for message in smtp.accepted] == ["after.restart@alpha.example"]


def test_any_other_error_keeps_the_500_page(rf):
    """Only an unreachable database is an outage: a bug is still a 500, and says so."""
    try:
        raise ValueError("a bug")
    except ValueError:
        response = handler500(rf.get("/"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert "Retry-After" not in response
