"""Several Daphne processes behind one address share their state through Redis."""

import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import redis
import requests

from tests.conftest import PASSWORD
from tests.helpers import ROOT, free_port, process_env

REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture(scope="module")
def redis_url():
    if REDIS_SERVER is None:
        message = "redis-server is not installed: apt-get install redis-server (make test does it as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def two_daphnes(organisations, redis_url):
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            env=process_env(REDIS_URL=redis_url),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    for port in ports:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    for process in processes:
                        process.kill()
                    pytest.fail("Daphne did not start")
                time.sleep(0.2)
    yield ports
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


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
    assert all(key.startswith("alpha:") for key in keys), keys
