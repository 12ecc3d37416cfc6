"""Settings come from the environment and fail loudly where production needs a value."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "RELAIS_ENV": "production",
    "SECRET_KEY": "k3!v9#Qm2&Lp8@Zr4^Wt6*Yx1(Bn5)Cd7_Fg0+Hj-Ks=Mq;Nu:Pw.Ra,Sb",
    "PLATFORM_DOMAIN": "relais.example.org",
    "DATABASE_URL": "postgresql://relais@db.invalid/relais",
}


def run_django(env_changes, *args):
    inherited = set(PRODUCTION) | {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG"}
    env = {key: value for key, value in os.environ.items() if key not in inherited}
    env.update({key: value for key, value in env_changes.items() if value is not None})
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    command = args or ["-c", "import django; django.setup(); print('started')"]
    return subprocess.run([sys.executable, *command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("missing", ["SECRET_KEY", "PLATFORM_DOMAIN"])
def test_production_refuses_to_start_without(missing):
    result = run_django({**PRODUCTION, missing: None})
    assert result.returncode != 0
    assert f"{missing} must be set when RELAIS_ENV=production" in result.stderr
    assert "started" not in result.stdout


def test_production_refuses_a_short_secret_key():
    result = run_django({**PRODUCTION, "SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 characters" in result.stderr


def test_unknown_environment_name_is_refused():
    result = run_django({"RELAIS_ENV": "prod"})
    assert "RELAIS_ENV must be development, test or production" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = run_django(PRODUCTION, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_transport_security_is_turned_off():
    result = run_django(
        {**PRODUCTION, "SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "0"}, "manage.py", "check", "--deploy"
    )
    assert "security.W008" in result.stderr
    assert "security.W004" in result.stderr


def test_debug_is_off_unless_asked():
    script = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    assert run_django({"RELAIS_ENV": "development"}, "-c", script).stdout.strip() == "False"
    assert run_django({"RELAIS_ENV": "development", "DEBUG": "true"}, "-c", script).stdout.strip() == "True"


def test_email_goes_through_smtp_when_email_url_is_given():
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS)"
    )
    result = run_django({"EMAIL_URL": "smtp+tls://user:pw@mail.example.org:587"}, "-c", script)
    assert result.stdout.split() == ["django.core.mail.backends.smtp.EmailBackend", "mail.example.org", "587", "True"]


def test_email_goes_through_an_anymail_provider_when_named():
    script = "import django; django.setup(); from django.conf import settings as s; print(s.EMAIL_BACKEND, s.ANYMAIL)"
    result = run_django({"ANYMAIL_PROVIDER": "brevo", "ANYMAIL_BREVO_API_KEY": "k-123"}, "-c", script)
    assert result.stdout.strip() == "anymail.backends.brevo.EmailBackend {'BREVO_API_KEY': 'k-123'}"


def test_channel_layer_and_cache_use_redis_when_redis_url_is_set():
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "cache = s.CACHES['default']; "
        "from django.core.cache import caches; from django.core.cache.backends.redis import RedisCache; "
        "print(s.CHANNEL_LAYERS['default']['BACKEND'], isinstance(caches['default'], RedisCache), "
        "cache['KEY_FUNCTION'])"
    )
    result = run_django({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "-c", script)
    assert result.stdout.split() == [
        "channels_redis.core.RedisChannelLayer",
        "True",  # Django's Redis cache (config.cache.ForgivingRedisCache, which misses while Redis is down)
        "django_tenants.cache.make_key",
    ]


def test_production_cookies_are_secure_and_administrators_need_a_second_factor():
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.MFA_REQUIRED_FOR_ADMINISTRATORS, 'config.csp.PolicyMiddleware' in s.MIDDLEWARE)"
    )
    assert run_django(PRODUCTION, "-c", script).stdout.split() == ["True"] * 5
    assert run_django({"RELAIS_ENV": "development"}, "-c", script).stdout.split()[:4] == [
        "False",
        "False",
        "True",
        "False",
    ]
