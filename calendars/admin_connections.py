"""The "Connected calendars" admin page: a staff user's CalDAV accounts and ICS
subscriptions. Add (the server is asked first), tick busy/write per calendar, see status,
last sync and error, "Sync now", remove. Every write goes through calendars/connections.py.
The password is write-only here too: a password input that never renders a value. Of an
address only the host is shown (an ICS subscription's full address is its secret); the
owner reads it whole through the API.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from calendars.connections import (
    connection_create,
    connection_delete,
    connection_sync,
    connection_update_calendars,
)
from calendars.models import ConnectedCalendar, Connection
from config.admin import OwnedAdminMixin


class ConnectionAddForm(forms.ModelForm):
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        help_text="CalDAV: the server or account address. ICS: the calendar's secret address.",
    )
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="CalDAV only. Use an app password where the provider offers one "
        "(iCloud, Fastmail, Nextcloud with two-factor sign-in).",
    )

    class Meta:
        model = Connection
        fields = ["kind", "url", "username"]
        help_texts = {"username": "CalDAV only."}

    owner = None  # set by the admin before validation

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.instance = connection_create(
                owner=self.owner,
                kind=data["kind"],
                url=data["url"],
                username=data.get("username", ""),
                password=data.get("password", ""),
            )
        except ValidationError as exc:
            raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc) from exc
        return data


class ConnectionChangeForm(forms.ModelForm):
    new_password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored one.",
    )

    class Meta:
        model = Connection
        fields: list[str] = []


class CalendarChoicesFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        writes = [f for f in self.forms if f.cleaned_data.get("write")]
        if len(writes) > 1:
            raise ValidationError("Choose at most one calendar to write bookings to.")


class ConnectedCalendarInline(OwnedAdminMixin, admin.TabularInline):
    model = ConnectedCalendar
    formset = CalendarChoicesFormSet
    fields = ["name", "host", "busy", "write"]
    readonly_fields = ["name", "host"]
    extra = 0
    can_delete = False
    verbose_name = "calendar"
    verbose_name_plural = "Calendars (busy: its events block slots; write: bookings go there)"

    # The server lists the calendars (the sync): none is added by hand.
    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Connection)
class ConnectionAdmin(OwnedAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "kind", "status", "last_synced_at", "error"]
    list_filter = ["status", "kind"]
    actions = ["sync_now"]
    change_form_template = "admin/calendars/connection/change_form.html"

    # Own connections only (a superuser sees all); any active staff user may use the page
    # (config.admin.OwnedAdminMixin).

    def get_queryset(self, request: HttpRequest) -> QuerySet[Connection]:
        return super().get_queryset(request).prefetch_related("calendars")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            form = type("BoundConnectionAddForm", (ConnectionAddForm,), {"owner": request.user})
            kwargs["form"] = form
            kwargs["fields"] = ["kind", "url", "username", "password"]
        else:
            kwargs["form"] = ConnectionChangeForm
            kwargs["fields"] = ["new_password"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["kind", "url", "username", "password"]})]
        return [
            (None, {"fields": ["kind", "host", "username", "new_password"]}),
            ("Sync", {"fields": ["status", "error", "last_synced_at", "last_attempt_at"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["kind", "host", "username", "status", "error", "last_synced_at", "last_attempt_at"]

    def get_inlines(self, request, obj=None):
        return [] if obj is None else [ConnectedCalendarInline]

    def save_model(self, request, obj: Connection, form, change: bool) -> None:
        # Added: connection_create already stored it (in the form's clean, so that a refused
        # connection shows on the form). Changed: only a new password is taken.
        if change and form.cleaned_data.get("new_password"):
            obj.password = form.cleaned_data["new_password"]
            obj.save(update_fields=["password_encrypted"])

    def save_formset(self, request, form, formset, change: bool) -> None:
        choices = [
            {
                "url": f.instance.url,
                "busy": f.cleaned_data["busy"],
                "write": f.cleaned_data["write"],
            }
            for f in formset.forms
            if f.has_changed()
        ]
        # The admin's change message reads these; the service did the writing.
        formset.new_objects, formset.deleted_objects = [], []
        formset.changed_objects = [
            (f.instance, f.changed_data) for f in formset.forms if f.has_changed()
        ]
        if choices:
            connection_update_calendars(connection=form.instance, calendars=choices)

    def delete_model(self, request, obj: Connection) -> None:
        connection_delete(connection=obj)

    def delete_queryset(self, request, queryset) -> None:
        for connection in queryset:
            connection_delete(connection=connection)

    @admin.action(description="Sync now")
    def sync_now(self, request: HttpRequest, queryset) -> None:
        results = [connection_sync(connection=c) for c in queryset]
        failed = [c for c in results if c.status == Connection.Status.ERROR]
        ok = len(results) - len(failed)
        self.message_user(request, f"Synced {ok} connection{'s' if ok != 1 else ''}.")
        for connection in failed:
            self.message_user(request, f"{connection}: {connection.error}", messages.ERROR)

    def get_urls(self):
        return [
            path(
                "<int:connection_id>/sync/",
                self.admin_site.admin_view(self.sync_view),
                name="calendars_connection_sync",
            ),
            *super().get_urls(),
        ]

    def sync_view(self, request: HttpRequest, connection_id: int):
        connection = get_object_or_404(self.get_queryset(request), pk=connection_id)
        here = reverse("admin:calendars_connection_change", args=[connection.pk])
        if request.method == "POST":
            self.sync_now(request, self.get_queryset(request).filter(pk=connection.pk))
        return HttpResponseRedirect(here)
