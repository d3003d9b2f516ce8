"""Settings for the bench's server and harness: the project's settings, read from the
environment the harness prepares (DEBUG off, its own database, no throttling), plus one
schema rule.

While the project apps have no migration files, every table is built from the models, as
the test suite does with --no-migrations: mixing would create project tables that point at
auth_user before auth's migrations made it. Once the migrations exist they are used.
"""

import pkgutil
from importlib.util import find_spec

from config.settings import *  # noqa: F403

PROJECT_APPS = ("calendars", "bookings", "contacts", "workflows")


def _has_migrations(app: str) -> bool:
    spec = find_spec(f"{app}.migrations")
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(not m.ispkg for m in pkgutil.iter_modules(spec.submodule_search_locations))


class _NoMigrations(dict):
    def __contains__(self, item: object) -> bool:
        return True

    def __getitem__(self, item: str) -> None:
        return None


if not all(_has_migrations(app) for app in PROJECT_APPS):
    MIGRATION_MODULES = _NoMigrations()
