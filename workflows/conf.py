"""Tunables of workflow execution, overridable in settings (tests shorten them)."""

from django.conf import settings


def max_attempts() -> int:
    return int(getattr(settings, "WORKFLOW_STEP_MAX_ATTEMPTS", 5))


def retry_base_seconds() -> float:
    return float(getattr(settings, "WORKFLOW_RETRY_BASE_SECONDS", 30))


def retry_max_seconds() -> float:
    return float(getattr(settings, "WORKFLOW_RETRY_MAX_SECONDS", 15 * 60))


def lost_after_seconds() -> float:
    """A queued step whose task has not come this long after it was due lost that task
    (the broker lost it): the sweeper enqueues it again."""
    return float(getattr(settings, "RECOVERY_LOST_AFTER_SECONDS", 30))


def lease_seconds() -> float:
    """How long a claim on a step lasts unless renewed; then any worker may take it."""
    return float(getattr(settings, "WORKFLOW_STEP_LEASE_SECONDS", 60))


def retry_delay(attempts: int) -> float:
    """Exponential backoff after `attempts` failed attempts: base, 2*base, 4*base ... cap."""
    return min(retry_base_seconds() * 2 ** max(attempts - 1, 0), retry_max_seconds())


def webhook_allow_private() -> bool:
    """Whether Send webhook may reach loopback and private addresses (send_webhook.py)."""
    return bool(getattr(settings, "WORKFLOW_WEBHOOK_ALLOW_PRIVATE", False))
