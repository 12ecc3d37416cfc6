"""A real redis-server and two Daphne processes sharing it, for the multi-process tests."""

import os
import shutil
import subprocess
import sys
import time

import pytest
import redis
import requests

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
