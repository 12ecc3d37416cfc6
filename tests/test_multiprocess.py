"""Several Daphne processes behind one address share their state through Redis."""

import re

import redis
import requests

from tests.conftest import PASSWORD
from tests.helpers import manage


def attempt_login(port, email, password):
    session = requests.Session()
    headers = {"Host": "alpha.localhost"}
    form = session.get(f"http://127.0.0.1:{port}/accounts/login/", headers=headers, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    return session.post(
        f"http://127.0.0.1:{port}/accounts/login/",
        data={"csrfmiddlewaretoken": token, "login": email, "password": password},
        headers={**headers, "Referer": "http://alpha.localhost/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )


def test_failed_logins_are_counted_across_web_processes(two_daphnes, redis_url, member):
    first, second = two_daphnes
    for attempt in range(5):
        response = attempt_login(first if attempt % 2 else second, member.email, "wrong-password")
        assert response.status_code == 200
        assert "not correct" in response.text

    # Each process saw fewer than five failures; together they saw five.
    refused = attempt_login(first, member.email, PASSWORD)
    assert "Too many failed login attempts" in refused.text
    assert refused.status_code != 302

    keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("*")]
    assert keys, "the rate-limit counters are in Redis"
    # Alpha's own entries, and the platform's answer to "which organisation is alpha.localhost?"
    # (tenancy/hosts.py), which both processes share.
    assert all(key.startswith("alpha:") or key == "public::1:tenants:host:alpha.localhost" for key in keys), keys
    assert "public::1:tenants:host:alpha.localhost" in keys


def _serves(port):
    """What alpha's host answers on this process: 200 for the sign-in page, 403 when suspended."""
    return requests.get(f"http://127.0.0.1:{port}/accounts/login/", headers={"Host": "alpha.localhost"}, timeout=10)


def _alpha_in_another_process(action, redis_url):
    """An operator's change made by a third process (a command, the admin on another web process)."""
    code = (
        "from tenants import services; from tenants.models import Organisation; "
        f"services.organisation_{action}(organisation=Organisation.objects.get(schema_name='alpha'))"
    )
    return manage("shell", "-c", code, REDIS_URL=redis_url)


def test_a_suspension_made_in_one_process_reaches_every_other_at_once(two_daphnes, redis_url):
    """Both web processes have alpha's host cached (tenancy/hosts.py); another process suspends
    alpha: the next request to either is refused, and served again once it is reactivated."""
    assert [_serves(port).status_code for port in two_daphnes] == [200, 200]
    try:
        result = _alpha_in_another_process("suspend", redis_url)
        assert result.returncode == 0, result.stderr
        refused = [_serves(port) for port in two_daphnes]
        assert [answer.status_code for answer in refused] == [403, 403]
        assert all("is suspended" in answer.text for answer in refused)
    finally:
        result = _alpha_in_another_process("reactivate", redis_url)
    assert result.returncode == 0, result.stderr
    assert [_serves(port).status_code for port in two_daphnes] == [200, 200]
