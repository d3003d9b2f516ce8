import random
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction

from bookings.models import OutboxMessage
from bookings.services import outbox
from bookings.services.outbox import (
    OutboxDeliveryFailed,
    OutboxTransientError,
    outbox_deliver,
    outbox_enqueue,
    outbox_enqueue_many,
    outbox_retry,
    outbox_sweep,
    retry_backoff,
)
from bookings.tasks import deliver_outbox_message, deliver_outbox_messages, sweep_outbox

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
ICS = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


def enqueue(key: str = "test:1", **kwargs) -> OutboxMessage:
    values = {
        "key": key,
        "to": "jamie@example.com",
        "subject": "Confirmed: Roof consult",
        "body_text": "See you then.",
        "body_html": "<p>See you then.</p>",
        "ics": ICS,
        "ics_method": "REQUEST",
        "deliver": False,
    }
    values.update(kwargs)
    return outbox_enqueue(**values)


@pytest.fixture
def delay():
    with mock.patch("bookings.tasks.deliver_outbox_message.delay") as delay:
        yield delay


# Enqueue


def test_it_records_a_pending_row():
    message = enqueue()

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING
    assert message.attempts == 0
    assert message.to == "jamie@example.com"


def test_it_returns_the_existing_row_for_a_known_key():
    first = enqueue()

    second = enqueue(subject="Something else")

    assert second.pk == first.pk
    assert second.subject == "Confirmed: Roof consult"
    assert OutboxMessage.objects.count() == 1


def test_it_refuses_a_bad_address():
    with pytest.raises(ValidationError) as caught:
        enqueue(to="not an address")

    assert "to" in caught.value.message_dict
    assert OutboxMessage.objects.count() == 0


def test_it_schedules_delivery_only_after_commit(delay, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = enqueue(deliver=True)
        assert delay.call_count == 0

    delay.assert_called_once_with(message.pk)


def test_it_does_not_schedule_a_sent_row_again(delay, django_capture_on_commit_callbacks):
    message = enqueue()
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxMessage.Status.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        enqueue(deliver=True)

    assert delay.call_count == 0


def test_it_keeps_the_commit_when_the_broker_is_down(django_capture_on_commit_callbacks):
    with (
        mock.patch(
            "bookings.tasks.deliver_outbox_message.delay", side_effect=ConnectionError("no broker")
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        message = enqueue(deliver=True)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING


# Deliver (Django's locmem backend: what was handed to the mail API)


def test_it_sends_text_html_and_the_invite():
    message = enqueue()

    assert outbox_deliver(message_id=message.pk) is True

    [sent] = mail.outbox
    assert sent.to == ["jamie@example.com"]
    assert sent.body == "See you then."
    assert sent.alternatives[0][:2] == ("<p>See you then.</p>", "text/html")
    [invite] = sent.attachments
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST"
    assert invite.get_filename() == "invite.ics"
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert message.sent_at is not None
    assert message.attempts == 1


def test_it_sends_once_when_delivered_twice():
    message = enqueue()

    assert outbox_deliver(message_id=message.pk) is True
    assert outbox_deliver(message_id=message.pk) is False

    assert len(mail.outbox) == 1


def test_it_sends_once_when_the_task_runs_twice():
    message = enqueue()

    deliver_outbox_message(message.pk)
    deliver_outbox_message(message.pk)

    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT


def hold(message: OutboxMessage, *, lease_until=NOW + timedelta(seconds=60)) -> None:
    """As if another sender claimed the row at NOW and died."""
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENDING, claimed_at=NOW, lease_until=lease_until, attempts=1
    )


def test_it_leases_a_claim_for_the_configured_time(settings):
    settings.OUTBOX_LEASE_SECONDS = 45
    message = enqueue()
    taken = []

    def send(email_message, *args, **kwargs):
        taken.append(OutboxMessage.objects.values_list("status", "lease_until").get())
        return 1

    with (
        time_machine.travel(NOW, tick=False),
        mock.patch("django.core.mail.EmailMessage.send", send),
    ):
        assert outbox_deliver(message_id=message.pk) is True

    assert taken == [("sending", NOW + timedelta(seconds=45))]
    message.refresh_from_db()
    assert (message.status, message.lease_until) == ("sent", None)


def test_it_leaves_a_row_another_sender_holds_until_its_lease_ends():
    message = enqueue()
    hold(message)

    with time_machine.travel(NOW + timedelta(seconds=59), tick=False):
        assert outbox_deliver(message_id=message.pk) is False

    assert mail.outbox == []


def test_it_reclaims_a_row_whose_lease_ended():
    message = enqueue()
    hold(message)

    with time_machine.travel(NOW + timedelta(seconds=61), tick=False):
        assert outbox_deliver(message_id=message.pk) is True

    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert message.attempts == 2


def test_it_reclaims_a_row_claimed_before_leases_were_recorded():
    message = enqueue()
    hold(message, lease_until=None)

    with time_machine.travel(NOW + timedelta(seconds=30), tick=False):
        assert outbox_deliver(message_id=message.pk) is False
    with time_machine.travel(NOW + timedelta(seconds=61), tick=False):
        assert outbox_deliver(message_id=message.pk) is True


def test_it_lets_the_reclaiming_sender_record_the_outcome_not_the_late_one():
    message = enqueue()
    hold(message)  # the first sender claimed at NOW, then stalled
    later = NOW + timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        assert outbox_deliver(message_id=message.pk) is True

    # The first sender wakes up and reports a failure: its claim is no longer the row's.
    outbox._finish(message, NOW, status=OutboxMessage.Status.FAILED, last_error="late")
    message.refresh_from_db()
    assert (message.status, message.claimed_at) == ("sent", later)


def test_it_ignores_a_missing_row():
    assert outbox_deliver(message_id=987654) is False


# Deliver against a real SMTP server


@pytest.mark.smtp
def test_it_delivers_a_mime_invite(smtp_server):
    message = enqueue()

    outbox_deliver(message_id=message.pk)

    [received] = smtp_server.wait_for(1)
    assert received["To"] == "jamie@example.com"
    assert received["Message-ID"].startswith(f"<outbox.{message.pk}.")
    parts = {part.get_content_type(): part for part in received.walk()}
    assert parts["text/plain"].get_content().strip() == "See you then."
    assert parts["text/html"].get_content().strip() == "<p>See you then.</p>"
    assert parts["text/calendar"].get_param("method") == "REQUEST"
    assert "METHOD:REQUEST" in parts["text/calendar"].get_content()


@pytest.mark.smtp
def test_it_puts_the_row_back_when_the_server_is_down(smtp_server):
    message = enqueue()
    smtp_server.stop()

    with pytest.raises(OutboxTransientError) as caught:
        outbox_deliver(message_id=message.pk)

    assert caught.value.attempts == 1
    assert 5 <= caught.value.retry_in <= 10
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING
    assert message.attempts == 1
    assert "ConnectionRefusedError" in message.last_error
    # Its retry is due then: the sweep takes its task for lost only some time after that.
    assert message.lease_until > message.claimed_at + timedelta(seconds=5)


@pytest.mark.smtp
def test_it_treats_a_4xx_answer_as_transient(smtp_server):
    message = enqueue()
    smtp_server.refuse_next(1)

    with pytest.raises(OutboxTransientError):
        outbox_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING
    assert "421" in message.last_error


@pytest.mark.smtp
def test_it_sends_on_the_next_try_after_an_outage(smtp_server):
    message = enqueue()
    smtp_server.refuse_next(1)
    with pytest.raises(OutboxTransientError):
        outbox_deliver(message_id=message.pk)

    assert outbox_deliver(message_id=message.pk) is True

    assert len(smtp_server.wait_for(1)) == 1
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert message.attempts == 2
    assert message.last_error == ""


@pytest.mark.smtp
def test_it_fails_a_message_the_server_refuses_for_good(smtp_server):
    message = enqueue()
    smtp_server.refuse_next(1, reply="550 5.1.1 No such user")

    with pytest.raises(OutboxDeliveryFailed):
        outbox_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert "550" in message.last_error


@pytest.mark.smtp
def test_it_fails_a_message_after_the_last_attempt(smtp_server, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    message = enqueue()
    smtp_server.stop()

    for _ in range(2):
        with pytest.raises(OutboxTransientError):
            outbox_deliver(message_id=message.pk)
    with pytest.raises(OutboxDeliveryFailed):
        outbox_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert message.attempts == 3
    assert outbox_deliver(message_id=message.pk) is False


@pytest.mark.smtp
def test_it_retries_the_task_with_a_growing_countdown(smtp_server, settings):
    settings.OUTBOX_RETRY_BACKOFF_SECONDS = 10
    message = enqueue()
    smtp_server.stop()
    countdowns = []

    def retry(*, exc, countdown):
        countdowns.append(countdown)
        return exc

    with mock.patch.object(deliver_outbox_message, "retry", side_effect=retry):
        for _ in range(3):
            with pytest.raises(OutboxTransientError):
                deliver_outbox_message(message.pk)

    assert 5 <= countdowns[0] <= 10
    assert 10 <= countdowns[1] <= 20
    assert 20 <= countdowns[2] <= 40


# Backoff


def test_it_doubles_the_backoff_up_to_the_cap(settings):
    settings.OUTBOX_RETRY_BACKOFF_SECONDS = 10
    settings.OUTBOX_RETRY_BACKOFF_MAX_SECONDS = 60
    rng = random.Random(7)

    waits = [[retry_backoff(attempts=n, rng=rng) for _ in range(200)] for n in range(1, 7)]

    bounds = [(5, 10), (10, 20), (20, 40), (30, 60), (30, 60), (30, 60)]
    for samples, (low, high) in zip(waits, bounds, strict=True):
        assert low <= min(samples) and max(samples) <= high
        assert max(samples) - min(samples) > (high - low) / 2  # jittered, not fixed


# Sweeper and retry


def test_it_finds_rows_whose_task_was_lost_half_a_minute_later():
    with time_machine.travel(NOW, tick=False):
        lost = enqueue("test:lost")
        sent = enqueue("test:sent")
        OutboxMessage.objects.filter(pk=sent.pk).update(status=OutboxMessage.Status.SENT)
    with time_machine.travel(NOW + timedelta(seconds=20), tick=False):
        enqueue("test:fresh")
    with time_machine.travel(NOW + timedelta(seconds=31), tick=False):
        found = outbox_sweep()

    assert found == [lost.pk]


def test_it_waits_again_before_sweeping_a_row_it_swept():
    with time_machine.travel(NOW, tick=False):
        message = enqueue()
    with time_machine.travel(NOW + timedelta(seconds=31), tick=False):
        assert outbox_sweep() == [message.pk]
        assert outbox_sweep() == []
    with time_machine.travel(NOW + timedelta(seconds=62), tick=False):
        assert outbox_sweep() == [message.pk]


def test_it_leaves_a_row_waiting_for_its_retry_to_the_retry():
    with time_machine.travel(NOW, tick=False):
        message = enqueue()
        # A failed try: pending again, its retry due in five minutes.
        OutboxMessage.objects.filter(pk=message.pk).update(
            attempts=2, claimed_at=NOW, lease_until=NOW + timedelta(minutes=5), last_error="421"
        )

    with time_machine.travel(NOW + timedelta(minutes=5, seconds=29), tick=False):
        assert outbox_sweep() == []
    with time_machine.travel(NOW + timedelta(minutes=5, seconds=31), tick=False):
        assert outbox_sweep() == [message.pk]


def test_it_hands_back_a_row_whose_senders_lease_ended():
    message = enqueue()
    hold(message)

    with time_machine.travel(NOW + timedelta(seconds=59), tick=False):
        assert outbox_sweep() == []
    with time_machine.travel(NOW + timedelta(seconds=61), tick=False):
        assert outbox_sweep() == [message.pk]

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING


def test_it_sweeps_stranded_rows_into_the_queue(delay):
    with time_machine.travel(NOW, tick=False):
        first = enqueue("test:1")
        second = enqueue("test:2")

    with time_machine.travel(NOW + timedelta(seconds=31), tick=False):
        assert sweep_outbox() == 2

    assert sorted(call.args[0] for call in delay.call_args_list) == [first.pk, second.pk]


def test_it_retries_failed_rows_but_never_sent_ones(delay, django_capture_on_commit_callbacks):
    failed = enqueue("test:failed")
    sent = enqueue("test:sent")
    OutboxMessage.objects.filter(pk=failed.pk).update(
        status=OutboxMessage.Status.FAILED, attempts=8, last_error="550"
    )
    OutboxMessage.objects.filter(pk=sent.pk).update(status=OutboxMessage.Status.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_retry(message_ids=[failed.pk, sent.pk]) == 1

    failed.refresh_from_db()
    sent.refresh_from_db()
    assert failed.status == OutboxMessage.Status.PENDING
    assert failed.attempts == 0
    assert sent.status == OutboxMessage.Status.SENT
    delay.assert_called_once_with(failed.pk)


# Several rows of one event, and rows rendered at delivery

RENDERED = []


def render_for_test(message: OutboxMessage) -> dict:
    RENDERED.append(message.pk)
    if message.context.get("broken"):
        raise LookupError("the booking is gone")
    return {"body_text": f"Hello {message.context['name']}.", "ics": ICS}


@pytest.fixture
def renderer(monkeypatch):
    RENDERED.clear()
    monkeypatch.setitem(outbox.RENDERERS, "test", f"{__name__}.render_for_test")
    return RENDERED


def deferred(key: str, **context) -> OutboxMessage:
    return OutboxMessage(
        key=key,
        to="jamie@example.com",
        subject="Hi",
        ics_method="REQUEST",
        template="test",
        context={"name": "Jamie", **context},
    )


@pytest.fixture
def delay_many():
    with mock.patch("bookings.tasks.deliver_outbox_messages.delay") as delay:
        yield delay


def test_it_records_several_rows_and_schedules_one_task_after_commit(
    delay_many, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ids = outbox_enqueue_many(messages=[deferred("test:a"), deferred("test:b")])

    assert list(OutboxMessage.objects.order_by("key").values_list("pk", flat=True)) == ids
    delay_many.assert_called_once_with(sorted(ids))


def test_it_keeps_one_row_per_key_when_recorded_again(
    delay_many, django_capture_on_commit_callbacks
):
    first = outbox_enqueue_many(messages=[deferred("test:a")], deliver=False)
    OutboxMessage.objects.filter(pk=first[0]).update(status=OutboxMessage.Status.SENT)

    with (
        mock.patch("bookings.tasks.deliver_outbox_message.delay") as delay_one,
        django_capture_on_commit_callbacks(execute=True),
    ):
        again = outbox_enqueue_many(messages=[deferred("test:a"), deferred("test:b")])

    assert again[0] == first[0]
    assert OutboxMessage.objects.count() == 2
    # The sent row is not delivered again; the new one is.
    delay_one.assert_called_once_with(again[1])
    assert delay_many.call_count == 0


def test_it_sends_one_task_per_commit(delay_many, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = outbox_enqueue_many(messages=[deferred("test:a"), deferred("test:b")])
    with django_capture_on_commit_callbacks(execute=True):
        second = outbox_enqueue_many(messages=[deferred("test:c"), deferred("test:d")])

    assert delay_many.call_args_list == [mock.call(sorted(first)), mock.call(sorted(second))]


def test_it_sends_no_task_for_a_rolled_back_transaction(
    delay_many, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        outbox_enqueue_many(messages=[deferred("test:a"), deferred("test:b")])
        raise RuntimeError("rolled back")

    assert callbacks == []
    assert delay_many.call_count == 0
    assert not OutboxMessage.objects.exists()


def test_it_refuses_a_row_with_neither_text_nor_template():
    with pytest.raises(ValidationError) as caught:
        outbox_enqueue_many(
            messages=[OutboxMessage(key="test:x", to="a@example.com", subject="Hi")]
        )

    assert "body_text" in caught.value.message_dict
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize(
    "bookkeeping",
    [
        {"status": OutboxMessage.Status.SENT},
        {"attempts": 2},
        {"last_error": "421 busy"},
        {"claimed_at": datetime(2027, 1, 1, tzinfo=UTC)},
        {"lease_until": datetime(2027, 1, 1, tzinfo=UTC)},
        {"sent_at": datetime(2027, 1, 1, tzinfo=UTC)},
    ],
)
def test_it_refuses_a_row_that_is_not_new(bookkeeping):
    message = deferred("test:a")
    for field, value in bookkeeping.items():
        setattr(message, field, value)

    with pytest.raises(ValueError, match="new messages only"):
        outbox_enqueue_many(messages=[message])
    assert not OutboxMessage.objects.exists()


def test_it_refuses_a_bad_address_among_several_rows():
    bad = deferred("test:b")
    bad.to = "not an address"
    with pytest.raises(ValidationError) as caught:
        outbox_enqueue_many(messages=[deferred("test:a"), bad])

    assert "to" in caught.value.message_dict
    assert not OutboxMessage.objects.exists()


def test_it_renders_a_row_on_its_claim_and_never_stores_the_text(renderer):
    [message_id] = outbox_enqueue_many(messages=[deferred("test:a")], deliver=False)

    assert outbox_deliver(message_id=message_id) is True

    [sent] = mail.outbox
    assert sent.body == "Hello Jamie."
    [invite] = sent.attachments
    assert invite.get_param("method") == "REQUEST"
    message = OutboxMessage.objects.get(pk=message_id)
    assert (message.body_text, message.body_html, message.ics) == ("", "", "")
    assert message.status == "sent"


@pytest.mark.smtp
def test_it_renders_again_and_sends_the_same_text_on_the_retry(renderer, smtp_server):
    [message_id] = outbox_enqueue_many(messages=[deferred("test:a")], deliver=False)
    smtp_server.refuse_next(1)
    with pytest.raises(OutboxTransientError):
        outbox_deliver(message_id=message_id)

    assert outbox_deliver(message_id=message_id) is True

    assert renderer == [message_id, message_id]
    [received] = smtp_server.wait_for(1)
    assert received.get_body(("plain",)).get_content().strip() == "Hello Jamie."


def test_it_fails_a_row_that_cannot_be_rendered(renderer):
    [message_id] = outbox_enqueue_many(messages=[deferred("test:a", broken=True)], deliver=False)

    with pytest.raises(OutboxDeliveryFailed):
        outbox_deliver(message_id=message_id)

    assert mail.outbox == []
    message = OutboxMessage.objects.get(pk=message_id)
    assert message.status == OutboxMessage.Status.FAILED
    assert "LookupError: the booking is gone" in message.last_error


def test_it_delivers_an_events_rows_in_one_task_once(renderer):
    ids = outbox_enqueue_many(messages=[deferred("test:a"), deferred("test:b")], deliver=False)

    assert deliver_outbox_messages(ids) == 2
    assert deliver_outbox_messages(ids) == 0

    assert len(mail.outbox) == 2
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.smtp
def test_it_retries_only_the_row_that_met_an_outage(renderer, smtp_server):
    ids = outbox_enqueue_many(messages=[deferred("test:a"), deferred("test:b")], deliver=False)
    smtp_server.refuse_next(1)

    with mock.patch.object(deliver_outbox_message, "apply_async") as retry:
        assert deliver_outbox_messages(ids) == 1

    [call] = retry.call_args_list
    assert call.args == ((ids[0],),)
    assert 5 <= call.kwargs["countdown"] <= 10
    statuses = dict(OutboxMessage.objects.values_list("pk", "status"))
    assert statuses == {ids[0]: "pending", ids[1]: "sent"}


def test_it_goes_on_past_a_row_that_failed_for_good(renderer):
    ids = outbox_enqueue_many(
        messages=[deferred("test:a", broken=True), deferred("test:b")], deliver=False
    )

    assert deliver_outbox_messages(ids) == 1

    statuses = dict(OutboxMessage.objects.values_list("pk", "status"))
    assert statuses == {ids[0]: "failed", ids[1]: "sent"}


def test_it_fails_a_row_whose_subject_holds_a_line_break_and_goes_on():
    ids = outbox_enqueue_many(
        messages=[
            OutboxMessage(key="test:a", to="a@example.com", subject="Hi\r\nBcc: x@example.com",
                          body_text="Hello."),
            OutboxMessage(key="test:b", to="b@example.com", subject="Hi", body_text="Hello."),
        ],
        deliver=False,
    )  # fmt: skip

    assert deliver_outbox_messages(ids) == 1

    bad, good = (OutboxMessage.objects.get(pk=pk) for pk in ids)
    assert bad.status == OutboxMessage.Status.FAILED
    assert "building failed: BadHeaderError" in bad.last_error
    assert good.status == OutboxMessage.Status.SENT
    assert [m.to for m in mail.outbox] == [["b@example.com"]]


def test_it_fails_a_row_whose_rendered_subject_holds_a_line_break(renderer, monkeypatch):
    [message_id] = outbox_enqueue_many(messages=[deferred("test:a")], deliver=False)
    monkeypatch.setitem(outbox.RENDERERS, "test", "tests.bookings.test_outbox.newline_subject")

    with pytest.raises(OutboxDeliveryFailed):
        outbox_deliver(message_id=message_id)

    message = OutboxMessage.objects.get(pk=message_id)
    assert message.status == OutboxMessage.Status.FAILED
    assert "rendering failed: BadHeaderError" in message.last_error
    assert mail.outbox == []


def newline_subject(message):
    return {"subject": "Booked by Eve\nBcc: x@example.com", "body_text": "Hello."}


def test_it_goes_on_past_a_row_whose_delivery_broke_off(renderer, monkeypatch):
    ids = outbox_enqueue_many(messages=[deferred("test:a"), deferred("test:b")], deliver=False)
    real = outbox.outbox_deliver

    def database_gone_for_the_first(*, message_id):
        if message_id == ids[0]:
            raise outbox.DatabaseError("connection lost")
        return real(message_id=message_id)

    monkeypatch.setattr("bookings.tasks.outbox_deliver", database_gone_for_the_first)

    assert deliver_outbox_messages(ids) == 1

    assert OutboxMessage.objects.get(pk=ids[1]).status == "sent"
