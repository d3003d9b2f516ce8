"""Which timezone names we accept: IANA's zone names, the one rule for settings and input.

zoneinfo.available_timezones() lists every file under the system's zoneinfo folder, and so
accepts "localtime" (Debian's link to the host's zone, different on every server) and
whatever else a distribution puts there. The tzdata package lists IANA's names themselves.
"""

from functools import cache
from importlib import resources


@cache
def iana_timezone_names() -> frozenset[str]:
    return frozenset(resources.files("tzdata").joinpath("zones").read_text().split())


def is_iana_timezone(name: str) -> bool:
    return isinstance(name, str) and name in iana_timezone_names()
