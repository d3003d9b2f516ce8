"""A calendar's public answers (its free slots, its booking page) in Django's cache.

The key holds the calendar's rules_version (its settings, hours and connected busy time)
and bookings_version (moved on by every booking write, bookings/slot_versions.py), both
read with the calendar in the request's one query: a change is seen by the next request,
in every process, whatever the cache backend. It also holds the current minute, because
notice and the booking window move with the clock: an answer is served for at most the
rest of its minute. Why and what it buys: docs/architecture.md, "Cached public answers".
"""

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from django.core.cache import cache
from django.shortcuts import get_object_or_404

from calendars.models import Calendar

T = TypeVar("T")

# What the key reads of a calendar: a caller may read just these (calendar_get_public's
# `fields`) and leave the whole row to a miss.
KEY_FIELDS = ("pk", "rules_version", "bookings_version")
# An entry is only ever asked for during its own minute; this just lets the cache drop it.
_TIMEOUT = 120


def cached_answer(
    *,
    calendar: Calendar,
    now: datetime,
    parts: Iterable[str],
    build: Callable[[Calendar], T],
) -> T:
    """`build(calendar)`, computed for `now`, or what it gave for the same calendar
    versions, minute and `parts` (all else the answer depends on: query, language...).

    A calendar read with only some fields is read whole before `build` (a miss)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()
    key = (
        f"answer:{calendar.pk}:{calendar.rules_version}:{calendar.bookings_version}"
        f":{int(now.timestamp()) // 60}:{digest}"
    )
    value = cache.get(key)
    if value is None:
        if calendar.get_deferred_fields():
            calendar = get_object_or_404(Calendar, pk=calendar.pk)
        value = build(calendar)
        cache.set(key, value, _TIMEOUT)
    return value
