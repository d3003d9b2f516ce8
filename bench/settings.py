"""Settings for the bench's server and harness: the project's settings, read from the
environment the harness prepares (DEBUG off, its own database, no throttling)."""

from config.settings import *  # noqa: F403
