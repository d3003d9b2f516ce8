"""Settings for the test suite: the real services on this machine unless told otherwise.

Tests run against PostgreSQL (races and locks are only meaningful there) and Redis; both
come from DATABASE_URL / CELERY_BROKER_URL when set, else the local defaults below.
"""

import os

os.environ.setdefault("SECRET_KEY", "onceslot-test-secret-key-not-for-production")
# Tests run as production does, whatever a developer's .env says.
os.environ.setdefault("DEBUG", "off")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/onceslot")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("SITE_URL", "http://testserver")
os.environ.setdefault("THROTTLE_PUBLIC_RATE", "none")
# Connected calendar tests talk to a Radicale and an HTTP server on 127.0.0.1.
os.environ.setdefault("CALENDAR_CONNECTION_ALLOW_PRIVATE", "on")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
