"""API tokens in the admin: listed without their key, revocable, created with the key shown
once. Staff see and manage their own tokens; a superuser sees everyone's."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import APIToken
from accounts.services import api_token_create, api_token_revoke


class APITokenAddForm(forms.ModelForm):
    class Meta:
        model = APIToken
        fields = ("user", "name", "expires_at")


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "user", "created_at", "expires_at")
    list_filter = ("expires_at",)
    search_fields = ("name", "prefix", "user__username")
    actions = ["revoke"]
    readonly_fields = ("prefix", "user", "created_at")
    fields = ("prefix", "user", "name", "expires_at", "created_at")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = APITokenAddForm
            kwargs["fields"] = ("user", "name", "expires_at")
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ("prefix", "user", "created_at") if obj else ()

    def get_fields(self, request, obj=None):
        return self.fields if obj else ("user", "name", "expires_at")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = db_field.related_model.objects.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet[APIToken]:
        tokens = super().get_queryset(request).select_related("user")
        return tokens if request.user.is_superuser else tokens.filter(user=request.user)

    def save_model(self, request, obj, form, change):
        if change:
            obj.full_clean()
            obj.save(update_fields=["name", "expires_at"])
            return
        token, key = api_token_create(user=obj.user, name=obj.name, expires_at=obj.expires_at)
        obj.pk, obj.prefix, obj.created_at = token.pk, token.prefix, token.created_at
        self.message_user(
            request,
            f"Generated token {key} for user {token.user}. Copy it now: it is not stored "
            "and cannot be shown again.",
            messages.SUCCESS,
        )

    def _is_staff(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return self._is_staff(request)

    def has_view_permission(self, request, obj=None):
        return self._is_staff(request)

    def has_add_permission(self, request):
        return self._is_staff(request)

    def has_change_permission(self, request, obj=None):
        return self._is_staff(request)

    def has_delete_permission(self, request, obj=None):
        return self._is_staff(request)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[APIToken]) -> None:
        count = api_token_revoke(tokens=list(queryset))
        self.message_user(request, f"Revoked {count} token{'s' if count != 1 else ''}.")
