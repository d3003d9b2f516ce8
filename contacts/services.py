"""Contact writes: create, upsert by email per owner (case-insensitive), tags, update."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from config.signals import send_on_commit
from contacts.models import Contact, Tag
from contacts.signals import contact_created, contact_tag_added


def _send_after_commit(signal, **kwargs) -> None:
    send_on_commit(signal, sender=Contact, **kwargs)


def normalize_email(email: str) -> str:
    local, _, domain = email.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if local else email.strip()


def contact_get_by_email(*, owner: AbstractBaseUser, email: str) -> Contact | None:
    """The owner's contact with this email (case-insensitive), or None."""
    return (
        Contact.objects.annotate(email_ci=Lower("email"))
        .filter(owner=owner, email_ci=normalize_email(email).lower())
        .first()
    )


@transaction.atomic
def contact_create(
    *,
    owner: AbstractBaseUser,
    email: str,
    origin: str,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    tags: list[str] | None = None,
) -> Contact:
    contact = Contact(
        owner=owner,
        email=normalize_email(email),
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        origin=origin,
    )
    contact.full_clean()
    contact.save()
    _send_after_commit(contact_created, contact_id=contact.pk, origin=contact.origin)
    for name in tags or []:
        contact_tag_add(contact=contact, name=name)
    return contact


def contact_upsert(
    *,
    owner: AbstractBaseUser,
    email: str,
    origin: str,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
) -> tuple[Contact, bool]:
    """The owner's contact with this email (case-insensitive), created if new (with
    `origin`, a Contact.Origin). Blank fields of an existing contact are filled in; known
    values are never overwritten by an upsert, nor is the origin."""
    contact = Contact(
        owner=owner,
        email=normalize_email(email),
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        origin=origin,
    )
    # Field checks only: the case-insensitive uniqueness per owner is the unique index's
    # job, and the owner is the caller's user, not input to check with a query.
    contact.full_clean(exclude=["owner"], validate_unique=False, validate_constraints=False)
    existing = contact_get_by_email(owner=owner, email=email)
    if existing is None:
        try:
            # A savepoint: a concurrent upsert of the same new email for the same owner makes
            # this INSERT wait for the other transaction and then fail on the unique index;
            # the caller's transaction (e.g. a booking) goes on with the other's row.
            with transaction.atomic():
                contact.save(force_insert=True)
        except IntegrityError:
            existing = contact_get_by_email(owner=owner, email=email)
            if existing is None:
                raise
        else:
            _send_after_commit(contact_created, contact_id=contact.pk, origin=contact.origin)
            return contact, True
    changed = []
    for field, value in (("first_name", first_name), ("last_name", last_name), ("phone", phone)):
        if value and not getattr(existing, field):
            setattr(existing, field, value)
            changed.append(field)
    if changed:
        existing.save(update_fields=[*changed, "updated_at"])
    return existing, False


def split_name(full_name: str) -> tuple[str, str]:
    first, _, last = full_name.strip().partition(" ")
    return first, last.strip()


@transaction.atomic
def contact_tag_add(*, contact: Contact, name: str) -> bool:
    """Add a tag (created if new, matched case-insensitively). True if the contact did not
    have it, in which case `contact_tag_added` is sent after commit."""
    name = name.strip()
    tag = Tag.objects.annotate(name_ci=Lower("name")).filter(name_ci=name.lower()).first()
    if tag is None:
        tag = Tag(name=name)
        tag.full_clean()
        tag.save()
    if contact.tags.filter(pk=tag.pk).exists():
        return False
    contact.tags.add(tag)
    _send_after_commit(contact_tag_added, contact_id=contact.pk, tag_name=tag.name)
    return True


@transaction.atomic
def contact_tag_remove(*, contact: Contact, name: str) -> bool:
    tag = Tag.objects.annotate(name_ci=Lower("name")).filter(name_ci=name.strip().lower()).first()
    if tag is None or not contact.tags.filter(pk=tag.pk).exists():
        return False
    contact.tags.remove(tag)
    return True


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    phone: str | None = None,
    tags: list[str] | None = None,
    owner: AbstractBaseUser | None = None,
) -> Contact:
    """Change the given fields (None leaves one alone). `tags`, when given, becomes the
    contact's exact tag set; tags it gains send `contact_tag_added`. `owner` hands the
    contact to another user (a superuser's admin only)."""
    changed = []
    if owner is not None and owner.pk != contact.owner_id:
        contact.owner = owner
        changed.append("owner")
    for field, value in (
        ("email", normalize_email(email) if email is not None else None),
        ("first_name", first_name),
        ("last_name", last_name),
        ("phone", phone),
    ):
        if value is not None and getattr(contact, field) != value:
            setattr(contact, field, value)
            changed.append(field)
    if changed:
        contact.full_clean()
        contact.save(update_fields=[*changed, "updated_at"])
    if tags is not None:
        wanted = {name.strip().lower(): name.strip() for name in tags if name.strip()}
        for tag in list(contact.tags.all()):
            if tag.name.lower() not in wanted:
                contact_tag_remove(contact=contact, name=tag.name)
        for name in wanted.values():
            contact_tag_add(contact=contact, name=name)
    return contact
