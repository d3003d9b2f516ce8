from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower

from config import rows
from config.signals import send_on_commit
from contacts.models import Contact, Tag
from contacts.signals import contact_created, contact_tag_added


def _send_after_commit(signal, **kwargs) -> None:
    send_on_commit(signal, sender=Contact, **kwargs)


def normalize_email(email: str) -> str:
    local, _, domain = email.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if local else email.strip()


def contact_get_by_email(*, email: str) -> Contact | None:
    return (
        Contact.objects.annotate(email_ci=Lower("email"))
        .filter(email_ci=normalize_email(email).lower())
        .first()
    )


@transaction.atomic
def contact_create(
    *,
    email: str,
    origin: str,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    tags: list[str] | None = None,
) -> Contact:
    contact = Contact(
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
    *, email: str, origin: str, first_name: str = "", last_name: str = "", phone: str = ""
) -> tuple[Contact, bool]:
    """The contact with this email (case-insensitive), created if new (with `origin`, a
    Contact.Origin). Blank fields of an existing contact are filled in; known values are
    never overwritten by an upsert, nor is the origin."""
    return contact_upsert_deferred(
        email=email, origin=origin, first_name=first_name, last_name=last_name, phone=phone
    ).result()


def contact_upsert_deferred(
    *, email: str, origin: str, first_name: str = "", last_name: str = "", phone: str = ""
) -> rows.Deferred[tuple[Contact, bool]]:
    """contact_upsert whose INSERT can travel in a caller's config.rows.together() statement
    (a booking's); result() does the rest, in the same transaction. Invalid input raises
    ValidationError here, before anything is sent."""
    contact = Contact(
        email=normalize_email(email),
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        origin=origin,
    )
    # Field checks only: the case-insensitive uniqueness is the INSERT's job below.
    contact.full_clean(validate_unique=False, validate_constraints=False)
    # INSERT ... ON CONFLICT DO NOTHING: one statement instead of look up, savepoint,
    # insert. A concurrent upsert of the same email (the unique index on lower(email))
    # waits for the other transaction and then does nothing, so the caller's transaction
    # (e.g. a booking) is never aborted by the duplicate.
    inserted = rows.insert_one_deferred(contact, skip_conflicts=True)

    def upserted(created: bool) -> tuple[Contact, bool]:
        if created:
            _send_after_commit(contact_created, contact_id=contact.pk, origin=contact.origin)
            return contact, True
        existing = _fill_in_existing(
            email=email, first_name=first_name, last_name=last_name, phone=phone
        )
        return existing, False

    return inserted.then(upserted)


def _fill_in_existing(*, email: str, first_name: str, last_name: str, phone: str) -> Contact:
    contact = _existing(email=email)
    if contact is None:  # only if the other row was deleted in between
        raise IntegrityError(f"contact {email!r} vanished during its upsert")
    changed = []
    for field, value in (("first_name", first_name), ("last_name", last_name), ("phone", phone)):
        if value and not getattr(contact, field):
            setattr(contact, field, value)
            changed.append(field)
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    return contact


def _existing(*, email: str) -> Contact | None:
    """contact_get_by_email as one plain statement (on the lower(email) unique index): every
    booking of a returning invitee asks it, and the ORM's annotated query cost more than
    twice as much CPU."""
    meta = Contact._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in meta.concrete_fields)
    sql = (
        f"SELECT {columns} FROM {quote(meta.db_table)}"  # noqa: S608 (names only)
        f" WHERE LOWER({quote(meta.get_field('email').column)}) = %s"
    )
    return next(iter(Contact.objects.raw(sql, [normalize_email(email).lower()])), None)


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
) -> Contact:
    """Change the given fields (None leaves one alone). `tags`, when given, becomes the
    contact's exact tag set; tags it gains send `contact_tag_added`."""
    changed = []
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
