import os

from celery import Celery
from celery.signals import worker_process_shutdown, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("onceslot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_shutdown.connect  # the worker (threads pool: its tasks run in this process)
@worker_process_shutdown.connect  # a prefork child
def release_claims_at_shutdown(**kwargs) -> None:
    # A warm shutdown has let its tasks finish, so this usually gives back nothing; when a
    # process stops with a claim still held, the claim goes back to the queue at once
    # instead of when its lease ends (config/leases.py).
    from config import leases

    leases.release_held()
