"""One settings module, everything from the environment: checked in fresh subprocesses, because
settings are read once at import and the test process has its own."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_VARS = (
    "PRODUCTION",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "DEFAULT_FROM_EMAIL",
    "SITE_URL",
    "STATIC_ROOT",
    "MEDIA_ROOT",
    "DB_POOL_MAX",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_PRELOAD",
    "DJANGO_SETTINGS_MODULE",
)

DUMP = """
import json, django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST", ""),
    "pool": db.get("OPTIONS", {}).get("pool"),
    "layer": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "layer_hosts": s.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts"),
    "cache": s.CACHES["default"]["BACKEND"],
    "email": s.EMAIL_BACKEND, "email_host": getattr(s, "EMAIL_HOST", ""),
    "email_tls": getattr(s, "EMAIL_USE_TLS", False),
    "allowed_hosts": s.ALLOWED_HOSTS, "csrf_origins": s.CSRF_TRUSTED_ORIGINS,
    "debug": s.DEBUG, "secret_key_len": len(s.SECRET_KEY),
    "staticfiles": s.STORAGES["staticfiles"]["BACKEND"],
    "whitenoise": "whitenoise.middleware.WhiteNoiseMiddleware" in s.MIDDLEWARE,
}, default=repr))
"""


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PRODUCTION": "1",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),  # 64 characters
        "ALLOWED_HOSTS": "forum.example.org",
        "CSRF_TRUSTED_ORIGINS": "https://forum.example.org",
        "DATABASE_URL": "postgres://forum:secret@127.0.0.1:5432/forum",
        "REDIS_URL": "redis://127.0.0.1:6379/9",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    env.update(overrides)
    return env


def run_python(tmp_path: Path, args: list[str], **env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    env["DATA_DIR"] = str(tmp_path / "data")
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def dump_settings(tmp_path: Path, **env_vars: str) -> dict:
    result = run_python(tmp_path, ["-c", DUMP], **env_vars)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_production_values_report_nothing(tmp_path):
    result = run_python(
        tmp_path,
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **production_env(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_without_production_flag_warns(tmp_path):
    # The same check is not a rubber stamp: the development defaults do fail it.
    env = production_env(tmp_path)
    del env["PRODUCTION"]
    result = run_python(
        tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env
    )
    assert result.returncode != 0
    assert "security.W" in result.stdout + result.stderr


def test_production_refuses_wildcard_allowed_hosts(tmp_path):
    result = run_python(
        tmp_path, ["manage.py", "check"], **production_env(tmp_path, ALLOWED_HOSTS="*")
    )
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must not contain '*'" in result.stderr


def test_production_refuses_missing_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = run_python(tmp_path, ["manage.py", "check"], **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert not (tmp_path / "data" / "secret_key").exists()


def test_production_refuses_weak_secret_key(tmp_path):
    result = run_python(
        tmp_path,
        ["manage.py", "check"],
        **production_env(tmp_path, SECRET_KEY="django-insecure-" + "x" * 50),
    )
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_settings_embedded_default_uses_sqlite_memory_layer_and_local_key(tmp_path):
    values = dump_settings(tmp_path)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(tmp_path / "data" / "forum.sqlite3")
    assert values["layer"] == "channels.layers.InMemoryChannelLayer"
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["email"] == "django.core.mail.backends.console.EmailBackend"
    assert values["debug"] is False
    assert values["whitenoise"] is True
    # A key is generated once, kept in DATA_DIR, and reused.
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.exists() and oct(key_file.stat().st_mode)[-3:] == "600"
    assert values["secret_key_len"] == len(key_file.read_text().strip()) >= 50
    assert dump_settings(tmp_path)["secret_key_len"] == values["secret_key_len"]


def test_settings_database_and_redis_urls_switch_engine_and_layer(tmp_path):
    values = dump_settings(tmp_path, **production_env(tmp_path))
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "forum"
    assert values["host"] == "127.0.0.1"
    assert values["pool"]["max_size"] == 10  # Django's psycopg pool, not persistent connections
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"
    assert values["layer_hosts"][0]["address"] == "redis://127.0.0.1:6379/9"
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["staticfiles"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert values["whitenoise"] is True


def test_settings_hosts_origins_and_email_from_environment(tmp_path):
    values = dump_settings(
        tmp_path,
        ALLOWED_HOSTS="forum.example.org,www.forum.example.org",
        CSRF_TRUSTED_ORIGINS="https://forum.example.org",
        EMAIL_URL="smtp://mailer:pw@smtp.example.org:587/?tls=True",
    )
    assert values["allowed_hosts"] == ["forum.example.org", "www.forum.example.org"]
    assert values["csrf_origins"] == ["https://forum.example.org"]
    assert values["email"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["email_host"] == "smtp.example.org"


@pytest.mark.parametrize(
    "name",
    [
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "EMAIL_URL",
        "PRODUCTION",
        "DEBUG",
    ],
)
def test_env_example_lists_setting(name):
    text = (ROOT / ".env.example").read_text()
    assert f"\n{name}=" in "\n" + text


def test_readme_documents_every_setting_variable():
    import re

    names = set(re.findall(r'env\.\w+\("([A-Z_]+)"', (ROOT / "config/settings.py").read_text()))
    assert len(names) > 20
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert missing == []


def test_readme_quick_start_is_make_run_and_make_test():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = quick.split("```sh\n", 1)[1].split("```", 1)[0]
    assert block.split("\n")[:-1] == ["make run", "make test"]
    assert "docs/DEPLOYMENT.md" in readme and (ROOT / "docs/DEPLOYMENT.md").exists()


STATIC_PROBE = """
import django
django.setup()
from django.core.management import call_command
from django.templatetags.static import static
from django.test import Client
call_command("collectstatic", "--noinput", verbosity=0)
url = static("css/forum.css")
response = Client().get(url, secure=True, HTTP_HOST="forum.example.org")
body = b"".join(response.streaming_content) if response.streaming else response.content
print("|".join([url, str(response.status_code), response.get("Cache-Control", ""),
                str(b"hue-0" in body)]))
"""


def test_production_serves_hashed_static_files_through_whitenoise(tmp_path):
    env = production_env(tmp_path)
    del env["DATABASE_URL"], env["REDIS_URL"]
    result = run_python(tmp_path, ["-c", STATIC_PROBE], **env)
    assert result.returncode == 0, result.stderr
    url, status, cache_control, has_css = result.stdout.strip().splitlines()[-1].split("|")
    assert (
        url.startswith("/static/css/forum.")
        and url.endswith(".css")
        and url != ("/static/css/forum.css")
    )  # hashed name from the manifest storage
    assert status == "200"
    assert "immutable" in cache_control or "max-age=315360000" in cache_control
    assert has_css == "True"
    assert (tmp_path / "static" / "css").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"SECRET_KEY": "change-me-to-64-random-characters-" + "x" * 40},
            "not the example's placeholder",
        ),
        ({"DATABASE_URL": "postgress//nonsense"}, "DATABASE_URL must look like postgres://"),
        ({"DATABASE_URL": "mysql://u:p@127.0.0.1/forum"}, "got scheme 'mysql'"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL must look like redis://"),
    ],
)
def test_production_refuses_bad_settings_in_one_line(tmp_path, overrides, message):
    """A wrong setting says which and how, in one line (not a KeyError from deep inside)."""
    result = run_python(tmp_path, ["manage.py", "check"], **production_env(tmp_path, **overrides))
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: "), last
    assert message in last, last


def test_env_example_loads_in_a_shell_and_passes_the_deploy_check(tmp_path):
    """.env.example as docs/DEPLOYMENT.md uses it (`set -a; . file`, and systemd's
    EnvironmentFile): every line must load (an unquoted `<...>` stopped the shell there and
    lost every later variable), and with a real SECRET_KEY it passes check --deploy. Its
    placeholder key is refused."""
    example = ROOT / ".env.example"
    names = [
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    ]
    shell = subprocess.run(
        ["bash", "-ec", f"set -a; . {example}; set +a; env -0"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        timeout=30,
    )
    assert shell.returncode == 0, shell.stderr
    loaded = dict(item.split("=", 1) for item in shell.stdout.split("\0") if "=" in item)
    assert set(names) <= set(loaded), set(names) - set(loaded)
    assert loaded["DEFAULT_FROM_EMAIL"] == "CAROCP Forum <forum@example.org>"
    values = {k: loaded[k] for k in names}
    values["STATIC_ROOT"] = str(tmp_path / "static")
    values["MEDIA_ROOT"] = str(tmp_path / "media")
    refused = run_python(tmp_path, ["manage.py", "check"], **values)
    assert refused.returncode != 0 and "placeholder" in refused.stderr
    values["SECRET_KEY"] = secrets.token_urlsafe(50)
    result = run_python(
        tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **values
    )
    assert result.returncode == 0, result.stdout + result.stderr
    dumped = dump_settings(tmp_path, **values)
    assert dumped["email_host"] == "smtp.example.org"
    assert dumped["email_tls"] is True  # STARTTLS: credentials never go out in clear text
