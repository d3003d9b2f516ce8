"""The one ownership rule: a staff user sees what they own, a superuser sees everything.

Every owned model's queryset is an OwnedQuerySet naming, as data, the lookup from a row to
its owning user ("owner", "calendar__owner", "workflow__created_by"): config imports no app.
The admin (config.admin.OwnedAdminMixin), the API and the services all ask it.
"""

from typing import Any, ClassVar

from django.db import models


def _is_superuser(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def user_sees_owner(user: Any, owner_id: int | None) -> bool:
    """Whether `user` may see (and use) what `owner_id` owns: their own, or anything for an
    active superuser. A row without an owner is a superuser's only."""
    if _is_superuser(user):
        return True
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    return owner_id is not None and owner_id == user.pk


class OwnedQuerySet(models.QuerySet):
    """Subclass with `owner_path`, the lookup from the row to its owning user."""

    owner_path: ClassVar[str] = "owner"

    def visible_to(self, user: Any) -> "OwnedQuerySet":
        """The rows `user` may see and change (none for anonymous or inactive users)."""
        if _is_superuser(user):
            return self
        if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
            return self.none()
        return self.filter(**{self.owner_path: user})

    def owned_by_one_who_sees(self, owner_id: int) -> "OwnedQuerySet":
        """The rows whose owner sees what `owner_id` owns (user_sees_owner as a filter),
        and rows whose owner is gone: those run as the system's (a workflow whose creator
        was deleted keeps reacting to everyone's events)."""
        path = self.owner_path
        active = models.Q(**{f"{path}__is_active": True})
        return self.filter(
            (active & (models.Q(**{path: owner_id}) | models.Q(**{f"{path}__is_superuser": True})))
            | models.Q(**{f"{path}__isnull": True})
        )


def owner_path(model: type[models.Model]) -> str | None:
    """The owner lookup of a model whose default manager is built on OwnedQuerySet."""
    queryset = model._default_manager.get_queryset()  # lazy: no query
    return queryset.owner_path if isinstance(queryset, OwnedQuerySet) else None


def owner_id_of(obj: models.Model) -> int | None:
    """The id of the user owning `obj`, following its model's owner_path attribute by
    attribute (one query per relation not already loaded)."""
    path = owner_path(type(obj))
    if path is None:
        raise TypeError(f"{type(obj).__name__} has no owner (no OwnedQuerySet)")
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id", None)


def is_visible_to(obj: models.Model, user: Any) -> bool:
    return user_sees_owner(user, owner_id_of(obj))
