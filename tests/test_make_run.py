"""`make run` as a new user meets it: links for the port it serves on, nothing written
outside var/, a demo password that survives re-runs, console emails one can read."""

import io
import os
import subprocess

from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command

from config.mail import ConsoleBackend
from tests.fresh_python import ROOT
from tests.test_settings import run_with_settings


def make_dry_run(*args: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "HOST", "PORT"}}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_it_derives_site_url_from_host_and_port_when_unset():
    out = make_dry_run("PORT=8100")
    assert "SITE_URL=http://127.0.0.1:8100 .venv/bin/python manage.py seed_demo" in out
    assert (
        "SITE_URL=http://127.0.0.1:8100 .venv/bin/python manage.py runserver 127.0.0.1:8100" in out
    )
    assert "8000" not in out


def test_it_keeps_an_explicit_site_url():
    out = make_dry_run("PORT=8100", SITE_URL="https://book.example.com")
    assert "SITE_URL=https://book.example.com .venv/bin/python manage.py seed_demo" in out


def test_it_keeps_celery_state_files_under_var():
    result = run_with_settings(
        "from django.conf import settings; "
        "print(settings.CELERY_BROKER_TRANSPORT_OPTIONS['control_folder']); "
        "print(settings.CELERY_BEAT_SCHEDULE_FILENAME)",
        CELERY_BROKER_URL="filesystem://",
    )
    assert result.returncode == 0, result.stderr
    control, schedule = result.stdout.split()
    assert control == str(ROOT / "var" / "celery-control")
    assert schedule == str(ROOT / "var" / "celerybeat-schedule")


def test_it_keeps_the_demo_password_across_runs(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first, second = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=first)
    user = get_user_model().objects.get(username="demo")
    hash_before = user.password
    call_command("seed_demo", stdout=second)
    user.refresh_from_db()

    assert user.password == hash_before  # same hash: open sessions stay signed in
    password = (tmp_path / "demo-password").read_text().strip()
    assert f"password '{password}'" in first.getvalue()
    assert f"password '{password}'" in second.getvalue()
    assert user.check_password(password)
    assert (tmp_path / "demo-password").stat().st_mode & 0o077 == 0


def test_it_prints_a_console_email_as_one_readable_block(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    stream = io.StringIO()
    message = EmailMultiAlternatives(
        subject="Bestätigt: Erstgespräch",
        body="Hallo Jürgen,\n\nIhre Buchung ist bestätigt.\n",
        from_email="Onceslot <noreply@localhost>",
        to=["jurgen@example.com"],
    )
    message.attach_alternative("<p>Hallo Jürgen</p>", "text/html")
    message.attach("invite.ics", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar")

    assert ConsoleBackend(stream=stream).send_messages([message]) == 1

    out = stream.getvalue()
    assert "Subject: Bestätigt: Erstgespräch" in out
    assert "Hallo Jürgen,\n\nIhre Buchung ist bestätigt." in out  # not quoted-printable
    assert "invite.ics" in out
    assert "BEGIN:VCALENDAR" not in out and "Content-Transfer-Encoding" not in out
    saved = list((tmp_path / "mail").glob("*.eml"))
    assert len(saved) == 1
    assert str(saved[0]) in out
