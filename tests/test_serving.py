"""The production layout keeps organisations apart on a connection it reuses, and queues what it
cannot serve at once instead of failing.

The web stack (config/serving.py) runs here with one worker, one thread and a pool of one
database connection: every HTTP request of the test goes through that one kept connection, so an
organisation's schema left set by one request would show in the next.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection

from tests.helpers import running_stack
from tests.test_chat_consumer import session_cookie

ONE_CONNECTION = {
    "WEB_WORKERS": "1",
    "WEB_THREADS": "1",
    "DATABASE_POOL_SIZE": "1",
    "WS_DATABASE_POOL_SIZE": "1",
    "RELAIS_STACK_NAME": "serving-test",
}


@pytest.fixture(scope="module")
def one_connection_stack(organisations):
    with running_stack("web-serving-tests.log", **ONE_CONNECTION) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def sessions(organisations, django_db_blocker):
    with django_db_blocker.unblock():
        return {schema: session_cookie(schema, f"founder@{schema}.example") for schema in ("alpha", "beta")}


def get(base, host, path, session=None):
    cookies = {"sessionid": session} if session else {}
    return requests.get(base + path, headers={"Host": host}, cookies=cookies, timeout=30, allow_redirects=False)


def web_connections():
    """The database connections the test's web server (Granian) holds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'serving-test-web'")
        return cursor.fetchone()[0]


def test_two_organisations_interleaved_on_one_kept_connection_see_only_their_own(
    one_connection_stack, sessions, django_db_blocker
):
    names = {"alpha": "Alpha Collectif", "beta": "Beta Mouvement"}
    others = {"alpha": "beta", "beta": "alpha"}
    seen = set()
    for _round in range(5):
        for schema in ("alpha", "beta", "beta", "alpha"):  # each order of the two, on the one connection
            host, other = f"{schema}.localhost", others[schema]
            for path in ("/app/", "/app/chapters/", "/app/chat/api/rooms/"):
                member_app = get(one_connection_stack, host, path, sessions[schema])
                assert member_app.status_code == 200, path
                assert names[schema] in member_app.text, path
                assert names[other] not in member_app.text, path
            site = get(one_connection_stack, host, "/")
            assert site.status_code == 200
            assert names[schema] in site.text
            assert names[other] not in site.text
            # The other organisation's session on this host is nobody here: sent to sign in.
            stranger = get(one_connection_stack, host, "/app/", sessions[other])
            assert stranger.status_code == 302
            assert "/accounts/login/" in stranger.headers["Location"]
            seen.add(schema)
        with django_db_blocker.unblock():
            assert web_connections() == 1, "the web server keeps one connection"
    assert seen == {"alpha", "beta"}


def test_many_more_people_than_connections_are_queued_and_served(one_connection_stack, sessions, django_db_blocker):
    """Sixty members at once on one database connection: each is served, none refused."""

    def visit(number):
        schema = "alpha" if number % 2 else "beta"
        return schema, get(one_connection_stack, f"{schema}.localhost", "/app/", sessions[schema])

    with ThreadPoolExecutor(60) as pool:
        answers = list(pool.map(visit, range(60)))
    assert [response.status_code for _schema, response in answers] == [200] * 60
    assert all(("Alpha Collectif" if schema == "alpha" else "Beta Mouvement") in r.text for schema, r in answers)
    with django_db_blocker.unblock():
        assert web_connections() == 1


def test_behind_the_proxy_each_visitor_is_counted_not_the_proxy(rf, settings):
    """With TRUSTED_PROXY_COUNT, rate limits (sign-ups, and allauth's sign-in) see the address the
    proxy saw; what the client wrote before it in X-Forwarded-For is not believed."""
    from tenancy.clients import client_address

    request = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "127.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "203.0.113.7"
    assert client_address(rf.get("/", REMOTE_ADDR="127.0.0.1")) == "127.0.0.1", "no header: the peer"
