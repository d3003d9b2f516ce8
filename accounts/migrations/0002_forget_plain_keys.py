"""Turn DRF authtoken's plain keys into digests (the keys keep working) and drop its table;
sign everyone out of sessions stored under their plain cookie value.

SQL here because rest_framework.authtoken is no longer installed: its model is gone, its
table may remain from before.
"""

import hashlib

from django.db import migrations


def forget_plain_keys(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" in connection.introspection.table_names():
        with connection.cursor() as cursor:
            cursor.execute("SELECT key, user_id, created FROM authtoken_token")
            rows = cursor.fetchall()
        APIToken = apps.get_model("accounts", "APIToken")
        APIToken.objects.bulk_create(
            APIToken(
                user_id=user_id,
                name="DRF token",
                prefix=key[:8],
                digest=hashlib.sha256(key.encode()).hexdigest(),
                created_at=created,
            )
            for key, user_id, created in rows
        )
        schema_editor.execute("DROP TABLE authtoken_token")
        schema_editor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")
    # Rows keyed by the cookie itself: each is a working session for whoever reads it.
    apps.get_model("sessions", "Session").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_api_tokens_as_digests"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(forget_plain_keys, migrations.RunPython.noop)]
