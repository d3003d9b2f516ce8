import os

from celery import Celery
from celery.signals import worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("onceslot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_shutdown.connect
def release_claims_at_shutdown(**kwargs) -> None:
    # A warm shutdown has let its tasks finish, so this usually gives back nothing; after a
    # cold one it hands unfinished claims to the other workers at once (config/leases.py).
    from config import leases

    leases.release_held()
