import pytest

from workflows import tasks


@pytest.fixture
def enqueued(monkeypatch):
    """Record run_step sends instead of talking to a broker: [(step_run_id, countdown)]."""
    sent: list[tuple[int, float | None]] = []
    monkeypatch.setattr(tasks.run_step, "delay", lambda step_id: sent.append((step_id, None)))
    monkeypatch.setattr(
        tasks.run_step,
        "apply_async",
        lambda args, countdown=None, **kw: sent.append((args[0], countdown)),
    )
    return sent


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks, enqueued, monkeypatch):
    """Run after-commit work (signals, so triggers) without a broker."""
    from bookings import tasks as booking_tasks

    monkeypatch.setattr(booking_tasks.deliver_outbox_message, "delay", lambda *a: None)
    monkeypatch.setattr(booking_tasks.deliver_outbox_messages, "delay", lambda *a: None)
    return lambda: django_capture_on_commit_callbacks(execute=True)
