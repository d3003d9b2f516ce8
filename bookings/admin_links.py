"""One-time link admin and the calendar Share panel.

The list filters by calendar and by derived state (in SQL), shows each active link's URL
with a Copy button, and revokes through the service. Links are never added or edited here
(tokens are derived, not typed): they are generated from the Share panel, the API, the
`generate_one_time_link` command or a workflow, all through `one_time_link_generate`.

The Share panel (`admin:calendar-share`, /admin/bookings/onetimelink/share/<calendar_id>/)
has four tabs: the scheduling link, the permanent link, the embed code, and the one-time
link (the current active one, Generate new link, the recent links with Revoke). Staff see
their own calendars; another staff member's calendar is a 404. Superusers see all.
"""

import html

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from bookings.models import Booking, OneTimeLink
from bookings.services.one_time_links import (
    one_time_link_generate,
    one_time_link_revoke,
    one_time_link_url,
    one_time_links_in_state,
    parse_expires_in,
)
from calendars.models import Calendar
from config.admin import SafeDateHierarchyMixin, action_confirmation
from contacts.models import Contact
from contacts.services import contact_get_by_email

RECENT_LINKS = 20
EXPIRY_CHOICES = [
    ("", "Never"),
    ("1h", "In 1 hour"),
    ("24h", "In 24 hours"),
    ("7d", "In 7 days"),
    ("30d", "In 30 days"),
]


def own_calendars(request: HttpRequest) -> QuerySet[Calendar]:
    if request.user.is_superuser:
        return Calendar.objects.all()
    return Calendar.objects.filter(owner=request.user)


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return OneTimeLink.State.choices

    def queryset(self, request, queryset):
        if self.value() in OneTimeLink.State.values:
            return one_time_links_in_state(queryset, state=self.value())
        return queryset


class GenerateLinkForm(forms.Form):
    contact_email = forms.EmailField(
        required=False,
        label="For a contact (optional)",
        help_text="Their name and email are filled in on the booking page.",
        widget=forms.EmailInput(attrs={"list": "share-contacts", "autocomplete": "off"}),
    )
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")
    label = forms.CharField(max_length=200, required=False, label="Note (staff only)")

    def clean_contact_email(self):
        email = self.cleaned_data["contact_email"]
        if not email:
            return None
        contact = contact_get_by_email(email=email)
        if contact is None:
            raise ValidationError("No contact has this email. Add the contact first.")
        return contact

    def clean_expires_in(self):
        value = self.cleaned_data["expires_in"]
        return timezone.now() + parse_expires_in(value) if value else None


@admin.register(OneTimeLink)
class OneTimeLinkAdmin(SafeDateHierarchyMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "calendar",
        "state_display",
        "contact",
        "label",
        "created_at",
        "expires_at",
        "used_at",
        "booking_display",
        "copy_url",
    ]
    list_filter = [("calendar", admin.RelatedOnlyFieldListFilter), StateFilter]
    list_select_related = ["calendar", "contact", "booking", "created_by"]
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
        qs = (
            super()
            .get_queryset(request)
            .select_related("calendar", "contact", "booking", "created_by")
        )
        if request.user.is_superuser:
            return qs
        return qs.filter(calendar__owner=request.user)

    # Staff manage the links of their own calendars (get_queryset) without model
    # permissions to grant; nobody adds or edits one here, and revoking replaces deleting.
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="state")
    def state_display(self, link: OneTimeLink) -> str:
        return OneTimeLink.State(link.state).label

    @admin.display(description="booking")
    def booking_display(self, link: OneTimeLink) -> str:
        booking = _booking_of(link)
        if booking is None:
            return "-"
        url = _booking_admin_url(booking)
        return format_html('<a href="{}">{}</a>', url, booking) if url else str(booking)

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
        calendar = get_object_or_404(own_calendars(request), pk=calendar_id)
        here = reverse("admin:calendar-share", kwargs={"calendar_id": calendar.pk})
        form = GenerateLinkForm()
        if request.method == "POST":
            if request.POST.get("action") == "revoke":
                return self._share_revoke(request, calendar, here)
            form = GenerateLinkForm(request.POST)
            if form.is_valid():
                try:
                    one_time_link_generate(
                        calendar=calendar,
                        created_by=request.user,
                        contact=form.cleaned_data["contact_email"],
                        label=form.cleaned_data["label"],
                        expires_at=form.cleaned_data["expires_in"],
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    self.message_user(request, "New one-time link generated.", messages.SUCCESS)
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
        links = OneTimeLink.objects.filter(calendar=calendar).select_related("contact", "booking")
        current = (
            one_time_links_in_state(links, state=OneTimeLink.State.ACTIVE, now=now)
            .order_by("-created_at", "-id")
            .first()
        )
        recent = []
        for link in links.order_by("-created_at", "-id")[:RECENT_LINKS]:
            state = link.state_at(now)
            recent.append(
                {
                    "link": link,
                    "state": state,
                    "url": one_time_link_url(link=link) if state == "active" else "",
                    "booking": _booking_of(link),
                    "booking_url": _booking_admin_url(_booking_of(link)),
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
            "embed_code": embed_code(calendar),
            "current": current,
            "current_url": one_time_link_url(link=current) if current else "",
            "recent": recent,
            "form": form,
            "contact_emails": _recent_contact_emails(),
            "active_tab": tab
            if tab in {"scheduling", "permanent", "embed", "one-time"}
            else ("one-time" if form.errors else "scheduling"),
        }


def embed_code(calendar: Calendar) -> str:
    """The HTML a site pastes to embed the booking page: the iframe (it scrolls inside by
    itself) and the script that grows it to its content (static/js/embed.js). Plain text:
    the Share panel escapes it into its textarea."""
    site = settings.SITE_URL
    src = html.escape(site + calendar.embed_path())
    script = html.escape(site + static("js/embed.js"))
    return (
        f'<iframe src="{src}" title="Book {html.escape(calendar.name)}" '
        'style="width:100%;min-height:640px;border:0" loading="lazy"></iframe>\n'
        f'<script src="{script}" async></script>'
    )


def copy_field(element_id: str, value: str) -> str:
    return format_html(
        '<span class="share-copy"><input type="text" readonly id="{}" value="{}" size="40">'
        '<button type="button" class="button" data-copy-target="{}">Copy</button></span>',
        element_id,
        value,
        element_id,
    )


def _recent_contact_emails() -> list[str]:
    return list(Contact.objects.order_by("-created_at").values_list("email", flat=True)[:200])


def _booking_of(link: OneTimeLink) -> Booking | None:
    # The reverse of Booking.one_time_link raises (an AttributeError) until the link is used.
    return getattr(link, "booking", None)


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
