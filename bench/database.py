"""The bench's own PostgreSQL database, dropped and made anew on every run."""

from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def recreate_database(url: str) -> None:
    """Drop and create the database named in `url`, connecting to the server's `postgres`
    database to do it. Other sessions on the old database are ended first (FORCE)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or not name.startswith("onceslot_bench"):
        # A guard against pointing the bench at a database someone cares about.
        raise ValueError(f"the bench database name must start with onceslot_bench, got {name!r}")
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def build_schema() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
