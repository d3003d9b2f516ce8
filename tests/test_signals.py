import logging

import pytest
from django.dispatch import Signal

from config.signals import send_on_commit


class Sender:
    pass


@pytest.mark.django_db
def test_it_sends_only_after_commit(django_capture_on_commit_callbacks):
    signal, received = Signal(), []
    signal.connect(lambda **kwargs: received.append(kwargs["value"]), weak=False)

    with django_capture_on_commit_callbacks(execute=True):
        send_on_commit(signal, sender=Sender, value=7)
        assert received == []

    assert received == [7]


@pytest.mark.django_db
def test_it_logs_a_failing_receiver_instead_of_raising(caplog, django_capture_on_commit_callbacks):
    signal, received = Signal(), []

    def broken(**kwargs):
        raise RuntimeError("receiver bug")

    signal.connect(broken, weak=False)
    signal.connect(lambda **kwargs: received.append(kwargs["value"]), weak=False)

    with (
        caplog.at_level(logging.ERROR, logger="config.signals"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        send_on_commit(signal, sender=Sender, value=1)

    assert received == [1]
    assert "Receiver" in caplog.text and "receiver bug" in caplog.text
