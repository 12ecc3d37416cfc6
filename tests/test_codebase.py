"""The repository's own rules, checked by `make test` so that CI enforces them."""

import subprocess
import sys

from tests.helpers import ROOT, manage

RUFF = [sys.executable, "-m", "ruff"]


def test_ruff_finds_nothing():
    result = subprocess.run([*RUFF, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_code_is_formatted():
    result = subprocess.run([*RUFF, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_migrations_are_committed(organisations):
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_the_benchmark_relay_is_not_routed_outside_the_benchmark():
    from config.routing import websocket_urlpatterns

    assert [str(pattern.pattern) for pattern in websocket_urlpatterns] == [
        "ws/chat/",
        "ws/site/petition/<int:page_id>/",
        "ws/mailings/<int:mailing_id>/",
        "ws/calls/<int:campaign_id>/",
    ]
    from config.urls_tenant import urlpatterns

    assert not any("bench" in str(getattr(pattern, "pattern", "")) for pattern in urlpatterns)
