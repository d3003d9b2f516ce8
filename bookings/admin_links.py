"""One-time link admin and the calendar Share panel.

The list filters by calendar and by derived state (in SQL), shows each active link's URL
with a Copy button, and revokes through the service. Links are never added or edited here
(tokens are derived, not typed): they are generated from the Share panel, the API, the
`generate_one_time_link` command or a workflow, all through `one_time_link_generate`.

The Share panel (`admin:calendar-share`, /admin/bookings/onetimelink/share/<calendar_id>/)
has four tabs: the scheduling link, the permanent link, the embed code, and the one-time
link (the current general link, Generate new link with its options, the recent links with
Revoke). The current link is only ever a panel link made for nobody: a contact's or a
workflow's link would hand a stranger someone's personal link. Staff see their own
calendars; another staff member's calendar is a 404. Superusers see all.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from bookings.models import Booking, OneTimeLink
from bookings.services.one_time_links import (
    one_time_link_generate,
    one_time_link_revoke,
    one_time_link_url,
    one_time_links_in_state,
    parse_expires_in,
)
from calendars.models import Calendar
from calendars.selectors import calendar_embed_code
from calendars.services import calendar_feed_regenerate
from config.admin import OwnedAdminMixin, SafeDateHierarchyMixin, action_confirmation
from contacts.models import Contact
from contacts.services import contact_create, contact_get_by_email, split_name

RECENT_LINKS = 20
EXPIRY_CHOICES = [
    ("", "Never"),
    ("1h", "In 1 hour"),
    ("24h", "In 24 hours"),
    ("7d", "In 7 days"),
    ("30d", "In 30 days"),
]


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return OneTimeLink.State.choices

    def queryset(self, request, queryset):
        if self.value() in OneTimeLink.State.values:
            return one_time_links_in_state(queryset, state=self.value())
        return queryset


class SourceFilter(admin.SimpleListFilter):
    title = "made by"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return OneTimeLink.Source.choices

    def queryset(self, request, queryset):
        if self.value() in OneTimeLink.Source.values:
            return queryset.filter(source=self.value())
        return queryset


class GenerateLinkForm(forms.Form):
    contact_email = forms.EmailField(
        required=False,
        label="For a contact (optional)",
        help_text="An existing contact's email, or a new one (give the name too): their "
        "name and email are filled in on the booking page.",
        widget=forms.EmailInput(attrs={"list": "share-contacts", "autocomplete": "off"}),
    )
    contact_name = forms.CharField(
        max_length=200,
        required=False,
        label="New contact's name",
        help_text="Only for an email that is not a contact yet: the contact is created.",
    )
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")
    max_uses = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=OneTimeLink.MAX_USES,
        initial=1,
        label="Uses",
        help_text="How many bookings the link takes.",
    )
    bookable_from = forms.DateField(
        required=False,
        label="Bookable from",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="In the calendar's timezone.",
    )
    bookable_until = forms.DateField(
        required=False, label="Bookable until", widget=forms.DateInput(attrs={"type": "date"})
    )
    lock_to_contact = forms.BooleanField(required=False, label="Only the contact's email can book")
    label = forms.CharField(max_length=200, required=False, label="Note (staff only)")

    def __init__(self, *args, calendar: Calendar, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calendar = calendar

    def clean_expires_in(self):
        value = self.cleaned_data["expires_in"]
        return timezone.now() + parse_expires_in(value) if value else None

    def clean_max_uses(self):
        return self.cleaned_data["max_uses"] or 1

    def clean(self):
        data = super().clean()
        email = data.get("contact_email")
        owner = self.calendar.owner
        if (
            email
            and not data.get("contact_name")
            and not contact_get_by_email(owner=owner, email=email)
        ):
            self.add_error("contact_name", "Give the new contact's name (or pick a contact).")
        if data.get("lock_to_contact") and not email:
            self.add_error("lock_to_contact", "Only a link made for a contact can be locked.")
        return data

    def contact(self) -> Contact | None:
        """The chosen contact, created if the email is new (call once the form is valid)."""
        email = self.cleaned_data["contact_email"]
        if not email:
            return None
        # A link is for one of the calendar owner's own contacts.
        contact = contact_get_by_email(owner=self.calendar.owner, email=email)
        if contact is None:
            first_name, last_name = split_name(self.cleaned_data["contact_name"])
            contact = contact_create(
                owner=self.calendar.owner,
                email=email,
                origin=Contact.Origin.ADMIN,
                first_name=first_name,
                last_name=last_name,
            )
        return contact


@admin.register(OneTimeLink)
class OneTimeLinkAdmin(SafeDateHierarchyMixin, OwnedAdminMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "calendar",
        "state_display",
        "contact",
        "made_by",
        "uses_display",
        "first_opened_at",
        "created_at",
        "expires_at",
        "booking_display",
        "copy_url",
    ]
    list_filter = [("calendar", admin.RelatedOnlyFieldListFilter), StateFilter, SourceFilter]
    list_select_related = ["calendar", "contact", "created_by"]
    search_fields = ["label", "contact__email", "locator"]
    date_hierarchy = "created_at"
    actions = ["revoke_links"]
    readonly_fields = [
        "calendar",
        "state_display",
        "copy_url",
        "contact",
        "label",
        "created_by",
        "created_by_process",
        "source",
        "uses_display",
        "bookable_from",
        "bookable_until",
        "lock_to_contact",
        "first_opened_at",
        "open_count",
        "created_at",
        "expires_at",
        "used_at",
        "booking_display",
        "revoked_at",
    ]
    fields = readonly_fields

    class Media:
        js = ["js/share.js"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("calendar", "contact", "created_by")
            .prefetch_related("bookings")
        )

    # Staff see the links of their own calendars (OwnedAdminMixin); nobody adds or edits
    # one here, and revoking replaces deleting.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="state")
    def state_display(self, link: OneTimeLink) -> str:
        return OneTimeLink.State(link.state).label

    @admin.display(description="made by")
    def made_by(self, link: OneTimeLink) -> str:
        return link.source_display()

    @admin.display(description="uses")
    def uses_display(self, link: OneTimeLink) -> str:
        return f"{link.uses} of {link.max_uses}"

    @admin.display(description="bookings")
    def booking_display(self, link: OneTimeLink) -> str:
        bookings = _bookings_of(link)
        if not bookings:
            return "-"
        return format_html_join(
            ", ",
            "{}",
            (
                (
                    format_html('<a href="{}">{}</a>', url, b)
                    if (url := _booking_admin_url(b))
                    else b,
                )
                for b in bookings
            ),
        )

    @admin.display(description="URL")
    def copy_url(self, link: OneTimeLink) -> str:
        if link.state != OneTimeLink.State.ACTIVE:
            return "-"
        return copy_field(f"otl-url-{link.pk}", one_time_link_url(link=link))

    @admin.action(description="Revoke selected one-time links")
    def revoke_links(self, request, queryset):
        page = action_confirmation(
            self,
            request,
            queryset,
            question="Revoke these one-time links? Nobody can book through them afterwards.",
            button="Yes, revoke them",
        )
        if page is not None:
            return page
        revoked = 0
        for link in one_time_links_in_state(queryset, state=OneTimeLink.State.ACTIVE):
            if one_time_link_revoke(link=link).state == OneTimeLink.State.REVOKED:
                revoked += 1
        self.message_user(
            request,
            f"Revoked {revoked} one-time link{'s' if revoked != 1 else ''}.",
            messages.SUCCESS,
        )

    # The Share panel

    def get_urls(self):
        return [
            path(
                "share/<int:calendar_id>/",
                self.admin_site.admin_view(self.share_view),
                name="calendar-share",
            ),
            *super().get_urls(),
        ]

    def share_view(self, request: HttpRequest, calendar_id: int) -> HttpResponse:
        calendar = get_object_or_404(
            Calendar.objects.visible_to(request.user).select_related("owner"), pk=calendar_id
        )
        here = reverse("admin:calendar-share", kwargs={"calendar_id": calendar.pk})
        form = GenerateLinkForm(calendar=calendar)
        if request.method == "POST":
            if request.POST.get("action") == "revoke":
                return self._share_revoke(request, calendar, here)
            if request.POST.get("action") == "replace-feed":  # the calendar feed (issue 15)
                calendar_feed_regenerate(calendar=calendar)
                self.message_user(request, "The feed has a new address.", messages.SUCCESS)
                return HttpResponseRedirect(f"{here}?tab=feed")
            form = GenerateLinkForm(request.POST, calendar=calendar)
            if form.is_valid():
                try:
                    with transaction.atomic():
                        data = form.cleaned_data
                        link = one_time_link_generate(
                            calendar=calendar,
                            created_by=request.user,
                            source=OneTimeLink.Source.PANEL,
                            contact=form.contact(),
                            label=data["label"],
                            expires_at=data["expires_in"],
                            max_uses=data["max_uses"],
                            bookable_from=data["bookable_from"],
                            bookable_until=data["bookable_until"],
                            lock_to_contact=data["lock_to_contact"],
                        )
                except ValidationError as exc:
                    _add_service_errors(form, exc)
                else:
                    text = "New one-time link generated."
                    if link.contact_id is None:
                        text += " The previous link stays usable until used; revoke it below."
                    self.message_user(request, text, messages.SUCCESS)
                    return HttpResponseRedirect(f"{here}?tab=one-time")
        response = TemplateResponse(
            request,
            "admin/bookings/share.html",
            self._share_context(request, calendar, form),
            status=400 if form.errors else 200,
        )
        # Its dates and times are the calendar's, each with the zone's abbreviation.
        with timezone.override(calendar.timezone):
            response.render()
        # The page holds live one-time URLs (in the page, never in its own URL): keep it out
        # of caches. Not "no-referrer": browsers then send "Origin: null" with the page's
        # forms, which Django's CSRF check rightly refuses.
        response.headers["Cache-Control"] = "no-store"
        return response

    def _share_revoke(self, request, calendar, here) -> HttpResponse:
        link_id = request.POST.get("link", "")
        link = get_object_or_404(
            OneTimeLink, calendar=calendar, pk=int(link_id) if link_id.isdigit() else 0
        )
        was_active = link.state == OneTimeLink.State.ACTIVE
        one_time_link_revoke(link=link)
        if was_active:
            self.message_user(request, "Revoked 1 one-time link.", messages.SUCCESS)
        else:
            self.message_user(
                request, "That link was no longer active; nothing to revoke.", messages.WARNING
            )
        return HttpResponseRedirect(f"{here}?tab=one-time")

    def _share_context(self, request, calendar: Calendar, form: GenerateLinkForm) -> dict:
        now = timezone.now()
        links = OneTimeLink.objects.filter(calendar=calendar).select_related("contact")
        # A general link only: one made for a contact (or by a workflow, the API or the
        # CLI) would hand a stranger that person's prefilled, personal link.
        current = (
            one_time_links_in_state(
                links.filter(source=OneTimeLink.Source.PANEL, contact__isnull=True),
                state=OneTimeLink.State.ACTIVE,
                now=now,
            )
            .order_by("-created_at", "-id")
            .first()
        )
        recent = []
        for link in links.prefetch_related("bookings").order_by("-created_at", "-id")[
            :RECENT_LINKS
        ]:
            state = link.state_at(now)
            bookings = _bookings_of(link)
            recent.append(
                {
                    "link": link,
                    "state": state,
                    "url": one_time_link_url(link=link) if state == "active" else "",
                    "bookings": [(b, _booking_admin_url(b)) for b in bookings],
                }
            )
        site = settings.SITE_URL
        tab = request.GET.get("tab", "")
        return {
            **self.admin_site.each_context(request),
            "title": f"Share {calendar.name}",
            "opts": self.model._meta,
            "calendar": calendar,
            "calendar_change_url": _calendar_admin_url(calendar.pk),
            "scheduling_url": site + calendar.scheduling_path(),
            "permanent_url": site + calendar.permanent_path(),
            "feed_url": site + calendar.feed_path(),
            "embed_code": calendar_embed_code(calendar=calendar),
            "current": current,
            "current_url": one_time_link_url(link=current) if current else "",
            "recent": recent,
            "form": form,
            "contact_emails": _recent_contact_emails(owner=calendar.owner),
            "active_tab": tab
            if tab in {"scheduling", "permanent", "embed", "one-time", "feed"}
            else ("one-time" if form.errors else "scheduling"),
        }


def copy_field(element_id: str, value: str) -> str:
    return format_html(
        '<span class="share-copy"><input type="text" readonly id="{}" value="{}" size="40">'
        '<button type="button" class="button" data-copy-target="{}">Copy</button></span>',
        element_id,
        value,
        element_id,
    )


def _recent_contact_emails(*, owner) -> list[str]:
    contacts = Contact.objects.filter(owner=owner).order_by("-created_at")
    return list(contacts.values_list("email", flat=True)[:200])


def _bookings_of(link: OneTimeLink) -> list[Booking]:
    # Prefetched by the callers (one query for a whole list).
    return sorted(link.bookings.all(), key=lambda booking: booking.created_at)


def _add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.message_dict.items():
        field = {"expires_at": "expires_in", "contact": "contact_email"}.get(field, field)
        form.add_error(field if field in form.fields else None, errors)


def _booking_admin_url(booking: Booking | None) -> str:
    if booking is None:
        return ""
    try:
        return reverse("admin:bookings_booking_change", args=[booking.pk])
    except NoReverseMatch:
        return ""


def _calendar_admin_url(calendar_id: int) -> str:
    try:
        return reverse("admin:calendars_calendar_change", args=[calendar_id])
    except NoReverseMatch:
        return ""
