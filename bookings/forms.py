"""Forms of the public booking pages: the invitee's details, and a new time for a reschedule.

The pages write their <input>s by hand (templates/bookings/partials/details_fields.html)
rather than through widget templates: the booking page GET is benchmarked and the form
renderer costs about a millisecond per field. Limits here and there must agree.

The chosen time travels as `start`, an ISO 8601 instant with its UTC offset (exactly what the
slots API and the page's time links give), and `tz`, the IANA timezone the invitee saw the
times in. Forms only check the shape of the input; whether the time is free is the booking
service's decision, made under its lock.
"""

from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from calendars.models import validate_timezone
from config.text import validate_single_line


def parse_start(value: str) -> datetime | None:
    """An aware datetime from an ISO 8601 string with an offset, or None for anything else."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    # Years 1 and 9999 sit at datetime's edges: converting them to UTC or to the invitee's
    # zone (up to 14 hours away) overflows. No bookable time is anywhere near them.
    if not 1 < parsed.year < 9999:
        return None
    return parsed


DEFAULT_CONSENT_TEXT = _("I agree to be contacted about this booking.")


class TimeFields(forms.Form):
    start = forms.CharField(
        widget=forms.HiddenInput,
        error_messages={"required": _("Pick a time first.")},
    )
    tz = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_start(self) -> datetime:
        parsed = parse_start(self.cleaned_data["start"])
        if parsed is None:
            raise ValidationError(_("Pick a time from the list."), code="invalid")
        return parsed

    def clean_tz(self) -> str:
        value = self.cleaned_data["tz"]
        validate_timezone(value)
        return value


class BookingForm(TimeFields):
    name = forms.CharField(
        max_length=200,
        validators=[validate_single_line],
        error_messages={"required": _("Please enter your name.")},
    )
    email = forms.EmailField(
        max_length=254,
        validators=[validate_single_line],
        error_messages={"required": _("Please enter your email address.")},
    )
    phone = forms.CharField(
        max_length=40,
        required=False,
        validators=[validate_single_line],
    )
    notes = forms.CharField(
        max_length=5000,
        required=False,
        label=_("Anything to share before the meeting?"),
    )
    consent = forms.BooleanField(required=False)

    def __init__(self, *args, requires_consent: bool = False, consent_text: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.requires_consent = requires_consent
        if requires_consent:
            self.fields["consent"].required = True
            self.fields["consent"].label = consent_text or DEFAULT_CONSENT_TEXT
            self.fields["consent"].error_messages["required"] = _("Please tick this box to book.")
        else:
            del self.fields["consent"]

    def clean_name(self) -> str:
        value = self.cleaned_data["name"].strip()
        if not value:
            raise ValidationError(_("Please enter your name."), code="required")
        return value

    def booking_kwargs(self) -> dict:
        """Keyword arguments for booking_create / one_time_link_book."""
        data = self.cleaned_data
        return {
            "start": data["start"],
            "name": data["name"],
            "email": data["email"],
            "phone": data.get("phone", ""),
            "notes": data.get("notes", ""),
            "timezone": data["tz"],
            "consent": bool(data.get("consent", False)),
        }


class RescheduleForm(TimeFields):
    def booking_kwargs(self) -> dict:
        return {"start": self.cleaned_data["start"], "timezone": self.cleaned_data["tz"]}


# The booking service reports field errors under the input names (name, email, ...); only
# the timezone is called differently here, where it travels as `tz`.
SERVICE_TO_FORM_FIELD = {"timezone": "tz"}


# What the booking services may tell an invitee. The services speak English to every
# interface (API, CLI, admin); the public pages translate these when they show them, and
# listing them here puts them in the catalogues.
SERVICE_MESSAGES = (
    gettext_noop("That time is not available (it may just have been taken). Pick another time."),
    gettext_noop("Please give your consent to book this calendar."),
    gettext_noop("This booking was cancelled, so it cannot be rescheduled."),
    gettext_noop("Give the start as a date and time."),
    gettext_noop("The start needs a UTC offset or timezone."),
    gettext_noop("The start is out of range."),
    gettext_noop("This calendar is not taking bookings."),
    gettext_noop("This link has expired."),
    gettext_noop("This link is for another email address."),
    gettext_noop("This link books only on the dates it was made for."),
    gettext_noop("Thank you. The owner has been told you would like a new link."),
)


def service_message(message: str) -> str:
    """A service's message in the active language (as it is, if the catalogues lack it)."""
    return gettext(message) if message else message


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Attach a service's ValidationError to the form, field by field where possible."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            name = SERVICE_TO_FORM_FIELD.get(field, field)
            messages = [service_message(m) for m in ValidationError(errors).messages]
            form.add_error(name if name in form.fields else None, messages)
    else:
        form.add_error(None, [service_message(m) for m in exc.messages])


class RenewalRequestForm(forms.Form):
    """The spent-link page's "Ask for a new link" (limits as the renewal API's)."""

    email = forms.EmailField(
        max_length=254, error_messages={"required": _("Please enter your email address.")}
    )
    message = forms.CharField(max_length=1000, required=False)
