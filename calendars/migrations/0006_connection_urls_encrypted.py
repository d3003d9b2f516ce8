"""Connection and connected-calendar URLs become Fernet ciphertext (config/crypto.py) in
`url_encrypted`; the plain `url` columns go. Reversible: going back decrypts into `url`
again (it needs the key the values were encrypted with, in SECRET_KEY or its fallbacks).

The order matters for going back: `url` returns with an empty default, is filled, and only
then does the (connection, url) unique constraint return.
"""

from django.db import migrations, models

from config import crypto

TABLES = ("Connection", "ConnectedCalendar")


def encrypt_urls(apps, schema_editor):
    for name in TABLES:
        model = apps.get_model("calendars", name)
        rows = list(model.objects.only("pk", "url"))
        for row in rows:
            row.url_encrypted = crypto.encrypt(row.url) if row.url else ""
        model.objects.bulk_update(rows, ["url_encrypted"], batch_size=500)


def decrypt_urls(apps, schema_editor):
    for name in TABLES:
        model = apps.get_model("calendars", name)
        rows = list(model.objects.only("pk", "url_encrypted"))
        for row in rows:
            try:
                row.url = crypto.decrypt(row.url_encrypted) if row.url_encrypted else ""
            except crypto.InvalidToken as exc:
                raise RuntimeError(
                    f"calendars.{name} {row.pk}: no key in SECRET_KEY or SECRET_KEY_FALLBACKS "
                    "opens its URL, so it cannot be written back in plain text."
                ) from exc
        model.objects.bulk_update(rows, ["url"], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("calendars", "0005_calendar_bookings_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="connection",
            name="url_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="connectedcalendar",
            name="url_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RemoveConstraint(
            model_name="connectedcalendar",
            name="connected_calendar_url_unique",
        ),
        migrations.RunPython(encrypt_urls, decrypt_urls),
        # An empty default, so that going back can add the column to rows that exist.
        migrations.AlterField(
            model_name="connection",
            name="url",
            field=models.URLField(default="", max_length=2000),
        ),
        migrations.AlterField(
            model_name="connectedcalendar",
            name="url",
            field=models.CharField(default="", max_length=2000),
        ),
        migrations.RemoveField(
            model_name="connection",
            name="url",
        ),
        migrations.RemoveField(
            model_name="connectedcalendar",
            name="url",
        ),
    ]
