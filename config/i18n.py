"""The languages of the public pages and the invitee's emails, and how dates and times read
in each (shared by the pages, the emails and the booking page's script).

A visitor's language comes from ?lang= (then kept in Django's language cookie), that
cookie, or Accept-Language (config.middleware.LanguageMiddleware); a calendar may fix its
own for visitors who chose none. Staff pages and the API stay English. Names of days and
months come from Django's own catalogs; the patterns around them are ours, one per
language. Times are 24-hour unless the visitor's locale reads 12-hour ones (en-US and a
few more) or they picked 12h on the booking page (?clock=12, kept in a cookie).
"""

from datetime import date, datetime
from functools import lru_cache

from django.conf import settings
from django.utils import translation
from django.utils.dates import MONTHS, WEEKDAYS, WEEKDAYS_ABBR
from django.utils.translation.trans_real import parse_accept_lang_header

LANG_PARAM = "lang"
CLOCK_PARAM = "clock"
CLOCK_COOKIE = "onceslot_clock"
# Locales that write times on a 12-hour clock (CLDR's "h" pattern) among our languages.
TWELVE_HOUR_LOCALES = frozenset(
    {"en-us", "en-ca", "en-au", "en-nz", "en-ph", "en-in", "es-mx", "es-us", "es-co", "es-ve"}
)

_DAY = {
    "en": "{weekday}, {day} {month} {year}",
    "de": "{weekday}, {day}. {month} {year}",
    "es": "{weekday}, {day} de {month} de {year}",
    "fr": "{weekday} {day} {month} {year}",
}
_MONTH = {
    "en": "{month} {year}",
    "de": "{month} {year}",
    "es": "{month} de {year}",
    "fr": "{month} {year}",
}
_AM_PM = {
    "en": ("AM", "PM"),
    "de": ("AM", "PM"),
    "es": ("a.\u00a0m.", "p.\u00a0m."),
    "fr": ("AM", "PM"),
}


def codes() -> tuple[str, ...]:
    return tuple(code for code, _ in settings.LANGUAGES)


def normalize(value: str | None) -> str | None:
    """Our language code for a tag like "de", "de-AT" or "DE"; None if we do not offer it."""
    if not value:
        return None
    base = value.strip().lower().replace("_", "-").split("-")[0]
    return base if base in codes() else None


def current() -> str:
    return normalize(translation.get_language()) or settings.LANGUAGE_CODE


def clock_from_request(request) -> int:
    """12 or 24: the visitor's choice (?clock=, its cookie), else their locale's habit."""
    for value in (request.GET.get(CLOCK_PARAM), request.COOKIES.get(CLOCK_COOKIE)):
        if value in ("12", "24"):
            return int(value)
    return default_clock(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))


@lru_cache(maxsize=512)
def default_clock(accept_language: str) -> int:
    for tag, _ in parse_accept_lang_header(accept_language[:500]):
        if normalize(tag):
            return 12 if tag.lower() in TWELVE_HOUR_LOCALES else 24
    return 24


@lru_cache(maxsize=8)
def names(lang: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(weekdays Monday first, months January first, short weekdays) in `lang`."""
    with translation.override(lang):
        return (
            tuple(str(WEEKDAYS[i]) for i in range(7)),
            tuple(str(MONTHS[i]) for i in range(1, 13)),
            tuple(str(WEEKDAYS_ABBR[i]) for i in range(7)),
        )


def format_day(day: date, lang: str | None = None) -> str:
    lang = lang or current()
    weekdays, months, _ = names(lang)
    return _DAY[lang].format(
        weekday=weekdays[day.weekday()], day=day.day, month=months[day.month - 1], year=day.year
    )


def format_month(month: date, lang: str | None = None) -> str:
    lang = lang or current()
    return _MONTH[lang].format(month=names(lang)[1][month.month - 1], year=month.year)


def format_time(moment: datetime, clock: int = 24, lang: str | None = None) -> str:
    if clock == 12:
        am, pm = _AM_PM[lang or current()]
        hour = moment.hour % 12 or 12
        return f"{hour}:{moment.minute:02d}\u00a0{am if moment.hour < 12 else pm}"
    return f"{moment.hour:02d}:{moment.minute:02d}"


def script_formats(lang: str, clock: int) -> dict:
    """What static/js/booking.js needs to write dates and times as the server does."""
    weekdays, months, _ = names(lang)
    return {
        "lang": lang,
        "clock": clock,
        # The script's Date.getUTCDay() counts from Sunday.
        "weekdays": [weekdays[6], *weekdays[:6]],
        "months": list(months),
        "day_pattern": _DAY[lang],
        "month_pattern": _MONTH[lang],
        "am_pm": list(_AM_PM[lang]),
    }
