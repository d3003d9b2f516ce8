"""Rules for text typed by users, shared by every app: single-line fields refuse control
characters, and rendered text handed on as data is a plain str, never trusted markup."""

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy

# C0 and C1 control characters (tab and line breaks included) and the Unicode line and
# paragraph separators: in a name, a phone number or a label they can only break something
# (an email header, a log line, a CSV cell, the layout of a page).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def has_control_characters(value: str) -> bool:
    return bool(_CONTROL.search(value))


@deconstructible
class SingleLineValidator:
    """For fields that hold one line of text: refuses control characters."""

    # Lazy: public pages show it in their language; the admin and the API are English.
    message = gettext_lazy("Use one line of text, without line breaks or control characters.")
    code = "control_characters"

    def __call__(self, value) -> None:
        if isinstance(value, str) and has_control_characters(value):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other) -> bool:
        return isinstance(other, SingleLineValidator)


validate_single_line = SingleLineValidator()


def one_line(value: str) -> str:
    """A value for an email header or a one-line summary: runs of whitespace and control
    characters become one space (rows stored before the validator may still hold them)."""
    return " ".join(_CONTROL.sub(" ", value).split())


def plain(text: str) -> str:
    """`text` as a plain str. A template or format_html gives a SafeString, which later
    templates print unescaped; text that carries what users typed must lose that mark
    before it is handed on as data (an email part, a snippet shown in a textarea)."""
    return str.__str__(text)
