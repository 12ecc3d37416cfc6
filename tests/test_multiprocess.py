"""Several Daphne processes behind one address share their state through Redis."""

import re

import redis
import requests

from tests.conftest import PASSWORD


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
    # (tenants/hosts.py), which both processes share.
    assert all(key.startswith("alpha:") or key == "public::1:tenants:host:alpha.localhost" for key in keys), keys
    assert "public::1:tenants:host:alpha.localhost" in keys
