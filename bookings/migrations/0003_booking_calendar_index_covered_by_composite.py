"""Drop the booking table's calendar_id index: the (calendar_id, status, start) index leads
with the same column and serves every lookup by calendar, while each booking INSERT paid
for both.

Only the index is dropped. AlterField would also drop and re-add the foreign key, and
re-adding it checks every booking row under a lock that blocks writes to the table.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "bookings_booking_calendar_id_2ce3af4f"


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0002_booking_holds_its_one_time_link"),
        ("calendars", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="booking",
                    name="calendar",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="bookings",
                        to="calendars.calendar",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=(
                        f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "bookings_booking" ("calendar_id")'
                    ),
                ),
            ],
        ),
    ]
