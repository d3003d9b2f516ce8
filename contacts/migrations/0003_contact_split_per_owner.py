"""Give every contact an owner, splitting a contact that several owners use.

The owners of a contact are those of the calendars of its bookings and one-time links and
those of the workflows it is enrolled in. The lowest owner id keeps the row (and its id);
each other owner gets a copy (same fields, times and tags) that their bookings, links and
enrollments then point at. Nothing is deleted, so nothing is lost.

A contact nobody uses (made by hand, or whose workflow's creator was deleted) goes to the
first active superuser, else the first superuser, else the first staff user, else the first
user: someone who can see it and hand it on. With contacts but no user at all the migration
stops with a message (create a superuser first).

Backwards, contacts with the same email (in any case) merge into the lowest id again: the
copies' bookings, links, enrollments and tags move to it and the copies are deleted (their
own name and phone edits are lost then). An enrollment that would make the contact active
twice in one workflow is closed as failed, saying why.
"""

from collections import defaultdict

from django.db import migrations
from django.db.models.functions import Lower
from django.utils import timezone

CHUNK = 1000


def _fallback_owner_id(User) -> int:
    for filters in (
        {"is_superuser": True, "is_active": True},
        {"is_superuser": True},
        {"is_staff": True},
        {},
    ):
        user_id = User.objects.filter(**filters).order_by("pk").values_list("pk", flat=True)
        if user_id:
            return user_id[0]
    raise RuntimeError(
        "Contacts need an owner now, and there is no user to give the unused ones to: "
        "create a superuser (manage.py createsuperuser), then migrate again."
    )


def split(apps, schema_editor):
    Contact = apps.get_model("contacts", "Contact")
    Booking = apps.get_model("bookings", "Booking")
    OneTimeLink = apps.get_model("bookings", "OneTimeLink")
    Enrollment = apps.get_model("workflows", "Enrollment")
    User = Contact._meta.get_field("owner").related_model

    # (related model, its contact's owner lookup) for each way an owner uses a contact.
    users_of = [
        (Booking, "calendar__owner_id"),
        (OneTimeLink, "calendar__owner_id"),
        (Enrollment, "workflow__created_by_id"),
    ]
    owners: dict[int, set[int]] = defaultdict(set)
    for model, lookup in users_of:
        pairs = (
            model.objects.filter(contact__isnull=False, contact__owner__isnull=True)
            .exclude(**{f"{lookup[:-3]}__isnull": True})
            .values_list("contact_id", lookup)
            .distinct()
        )
        for contact_id, owner_id in pairs.iterator():
            owners[contact_id].add(owner_id)

    unowned = Contact.objects.filter(owner__isnull=True)
    keeper: dict[int, list[int]] = defaultdict(list)  # owner id -> contacts it keeps
    fallback = None
    for contact_id in unowned.values_list("pk", flat=True).iterator():
        used_by = sorted(owners.get(contact_id, ()))
        if not used_by and fallback is None:
            fallback = _fallback_owner_id(User)
        keeper[used_by[0] if used_by else fallback].append(contact_id)
    for owner_id, contact_ids in keeper.items():
        for start in range(0, len(contact_ids), CHUNK):
            unowned.filter(pk__in=contact_ids[start : start + CHUNK]).update(owner_id=owner_id)

    shared = {contact_id: sorted(ids)[1:] for contact_id, ids in owners.items() if len(ids) > 1}
    for original in Contact.objects.filter(pk__in=list(shared)).prefetch_related("tags"):
        tags = list(original.tags.all())
        for owner_id in shared[original.pk]:
            copy = Contact.objects.create(
                owner_id=owner_id,
                first_name=original.first_name,
                last_name=original.last_name,
                email=original.email,
                phone=original.phone,
                created_at=original.created_at,
            )
            # auto_now stamped the copy with today; it is as old as the original.
            Contact.objects.filter(pk=copy.pk).update(updated_at=original.updated_at)
            copy.tags.set(tags)
            for model, lookup in users_of:
                model.objects.filter(contact=original, **{lookup: owner_id}).update(contact=copy)


def merge(apps, schema_editor):
    Contact = apps.get_model("contacts", "Contact")
    Booking = apps.get_model("bookings", "Booking")
    OneTimeLink = apps.get_model("bookings", "OneTimeLink")
    Enrollment = apps.get_model("workflows", "Enrollment")

    by_email: dict[str, list[int]] = defaultdict(list)
    rows = Contact.objects.annotate(email_ci=Lower("email")).order_by("pk")
    for contact_id, email in rows.values_list("pk", "email_ci").iterator():
        by_email[email].append(contact_id)
    now = timezone.now()
    for keep_id, *copy_ids in (ids for ids in by_email.values() if len(ids) > 1):
        keep = Contact.objects.get(pk=keep_id)
        for copy in Contact.objects.filter(pk__in=copy_ids).prefetch_related("tags"):
            keep.tags.add(*copy.tags.all())
            Booking.objects.filter(contact=copy).update(contact=keep)
            OneTimeLink.objects.filter(contact=copy).update(contact=keep)
            active_in = Enrollment.objects.filter(contact=keep, status="active").values("workflow")
            Enrollment.objects.filter(
                contact=copy, status="active", workflow__in=active_in
            ).update(
                status="failed",
                finished_at=now,
                error="Closed when contacts were merged back: the contact was active twice.",
            )
            Enrollment.objects.filter(contact=copy).update(contact=keep)
            copy.delete()


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0002_contact_owner_field"),
        ("bookings", "0003_booking_calendar_index_covered_by_composite"),
        ("workflows", "0001_initial"),
    ]

    operations = [migrations.RunPython(split, merge)]
