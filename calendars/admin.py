"""Calendar admin: the calendar with its weekly hours and date overrides as inlines.

Any active staff user manages calendars here (no per-model permission needed), but sees and
edits only the calendars they own; a superuser sees every one (config.admin.OwnedAdminMixin).
The calendar and its hours are written by calendar_create / calendar_update, as the API
writes them, so the same checks run and the same rules_version changes.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.messages import WARNING
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from calendars import (
    admin_connections,  # noqa: F401  (the Connected calendars page)
    validation,
)
from calendars.models import Calendar, DateOverride, WeeklyInterval, _timezone_names
from calendars.services import EDITABLE_FIELDS, calendar_create, calendar_update
from config.admin import OwnedAdminMixin


class IntervalFormSet(BaseInlineFormSet):
    """Runs the shared interval checks over the rows that stay, grouped by `group_field`."""

    group_field = "weekday"
    allow_closed = False

    def clean(self) -> None:
        super().clean()
        rows, forms_kept = [], []
        for form in self.forms:
            # Forms with their own errors (bad time, missing field) are reported already;
            # empty extra forms and rows marked for deletion do not count.
            if form.errors or not form.has_changed() or self._should_delete_form(form):
                continue
            rows.append(self._row(form))
            forms_kept.append(form)
        found = validation.grouped_interval_errors(rows, allow_closed=self.allow_closed)
        for index, fields in found.items():
            for field, messages in fields.items():
                for message in messages:
                    forms_kept[index].add_error(None if field == "__all__" else field, message)

    def _row(self, form) -> tuple:
        data = form.cleaned_data
        return (data.get(self.group_field), data.get("start"), data.get("end"))

    def rows(self) -> list[tuple]:
        """Every row the calendar keeps after this save (unchanged ones too), for the
        service that replaces the whole set."""
        return [
            self._row(form)
            for form in self.forms
            if not self._should_delete_form(form)
            and (form.instance.pk is not None or form.has_changed())
        ]


class DateOverrideFormSet(IntervalFormSet):
    group_field = "date"
    allow_closed = True


class DateOverrideForm(forms.ModelForm):
    class Meta:
        model = DateOverride
        fields = ["date", "start", "end"]
        help_texts = {
            "start": "Leave times empty to close the date.",
            "end": "Leave times empty to close the date.",
        }


class OwnedInline(OwnedAdminMixin, admin.TabularInline):
    extra = 1


class WeeklyIntervalInline(OwnedInline):
    model = WeeklyInterval
    formset = IntervalFormSet
    fields = ["weekday", "start", "end"]
    verbose_name = "weekly interval"
    verbose_name_plural = "Weekly hours (several intervals per weekday allowed)"


class DateOverrideInline(OwnedInline):
    model = DateOverride
    form = DateOverrideForm
    formset = DateOverrideFormSet
    fields = ["date", "start", "end"]
    verbose_name = "date override"
    verbose_name_plural = "Date overrides (leave times empty to close the date)"


@admin.register(Calendar)
class CalendarAdmin(OwnedAdminMixin, admin.ModelAdmin):
    inlines = [WeeklyIntervalInline, DateOverrideInline]
    list_display = ["name", "slug", "owner", "timezone", "duration_minutes", "is_active", "links"]
    list_filter = ["is_active"]
    list_select_related = ["owner"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["public_id", "links"]

    def get_fieldsets(self, request: HttpRequest, obj: Calendar | None = None):
        main = ["name", "slug", "description", "language", "is_active"]
        if request.user.is_superuser:
            main.insert(2, "owner")
        fieldsets = [
            (None, {"fields": main}),
            (
                "Slots",
                {
                    "fields": [
                        "timezone",
                        "duration_minutes",
                        "slot_interval_minutes",
                        ("buffer_before_minutes", "buffer_after_minutes"),
                    ]
                },
            ),
            (
                "Booking rules",
                {
                    "fields": [
                        "min_notice_minutes",
                        "booking_window_days",
                        "seats_per_slot",
                        "max_bookings_per_day",
                        "requires_consent",
                        "consent_text",
                        "use_connected_calendars",
                    ]
                },
            ),
        ]
        if obj is not None:
            fieldsets.append(("Links", {"fields": ["public_id", "links"]}))
        return fieldsets

    def get_form(self, request: HttpRequest, obj: Calendar | None = None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "slug" in form.base_fields:
            example = settings.SITE_URL + reverse(
                "bookings:scheduling", kwargs={"slug": obj.slug if obj else "intro-call"}
            )
            form.base_fields[
                "slug"
            ].help_text = f"The end of the scheduling link: {example}. Letters, digits and hyphens."
        return form

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "timezone":
            # A picker instead of free text; the model validator still refuses junk posts.
            kwargs["widget"] = forms.Select(choices=[(n, n) for n in sorted(_timezone_names())])
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True, is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("owner", request.user.pk)
        initial.setdefault("timezone", settings.TIME_ZONE)
        return initial

    def save_model(self, request: HttpRequest, obj: Calendar, form, change: bool) -> None:
        # Written in save_related, where the hours are known: one service call writes the
        # calendar with its hours, as the API does.
        pass

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        data = form.cleaned_data
        fields = {name: value for name, value in data.items() if name in EDITABLE_FIELDS}
        hours = {}
        for formset in formsets:
            # commit=False only collects what changed, for the admin's history message.
            formset.save(commit=False)
            key = "weekly_hours" if formset.model is WeeklyInterval else "date_overrides"
            hours[key] = formset.rows()
        calendar = form.instance
        if change:
            calendar_update(calendar=calendar, owner=data.get("owner"), **hours, **fields)
        else:
            saved = calendar_create(owner=data.get("owner") or request.user, **hours, **fields)
            # The admin goes on (history, redirect) with the instance of its form.
            for field in Calendar._meta.concrete_fields:
                setattr(calendar, field.attname, getattr(saved, field.attname))
            calendar._state.adding = False
        if not calendar.weekly_hours.exists():
            self.message_user(
                request,
                f"{calendar.name} has no weekly hours: its booking page shows no free times "
                "(except on date overrides with times). Add hours below to open it.",
                WARNING,
            )

    @admin.display(description="Links")
    def links(self, calendar: Calendar) -> str:
        if calendar.pk is None:
            return "-"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">scheduling</a> · '
            '<a href="{}" target="_blank" rel="noopener">permanent</a>',
            calendar.scheduling_path(),
            calendar.permanent_path(),
        )


from calendars import admin_home  # noqa: E402, F401  (registers the staff home box)
