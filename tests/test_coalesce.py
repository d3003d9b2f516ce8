"""config.coalesce: many small sends in one, from a background thread of the process."""

import os
import threading

import pytest

from config import coalesce
from config.coalesce import Coalescer

# How long a test waits for the background thread before it fails: never reached when the
# code works, since every wait below ends on an event the send sets.
PATIENCE = 10.0


class Recorder:
    """A send that records its batches, the thread it ran on, and wakes the test."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.threads: list[str] = []
        self.arrived = threading.Event()
        self._fail_first = fail_first

    def __call__(self, batch: list[int]) -> None:
        self.threads.append(threading.current_thread().name)
        if self._fail_first:
            self._fail_first = False
            self.arrived.set()
            raise ConnectionError("broker down")
        self.batches.append(batch)
        self.arrived.set()

    def wait(self) -> None:
        assert self.arrived.wait(PATIENCE), "nothing was sent"
        self.arrived.clear()


def coalescer(send, *, window: float = 60.0, max_items: int = 10, inline: bool = False):
    return Coalescer(
        "test", send, window=lambda: window, max_items=max_items, inline=lambda: inline
    )


def test_it_sends_what_arrives_within_the_window_in_one_call():
    send = Recorder()
    gather = coalescer(send, window=0.3)

    gather.submit([1, 2])
    gather.submit([3])
    send.wait()

    assert send.batches == [[1, 2, 3]]
    assert send.threads == ["coalesce-test"]


def test_it_sends_a_full_batch_without_waiting_out_the_window():
    send = Recorder()
    gather = coalescer(send, window=3600, max_items=3)

    gather.submit([1, 2])
    gather.submit([3])
    send.wait()  # long before the hour is up

    assert send.batches == [[1, 2, 3]]


class CountingCondition(threading.Condition):
    """A Condition that counts its notify() calls: how often submit woke the thread."""

    def __init__(self) -> None:
        super().__init__(threading.Lock())
        self.notified = 0

    def notify(self, n: int = 1) -> None:
        self.notified += 1
        super().notify(n)


def test_it_wakes_its_thread_only_for_the_first_item_and_a_full_batch():
    send = Recorder()
    batcher = coalescer(send, window=60.0, max_items=10)
    batcher._cond = CountingCondition()
    for n in range(9):
        batcher.submit([n])
    assert batcher._cond.notified == 1
    batcher.submit([9])
    send.wait()
    assert batcher._cond.notified == 2
    assert send.batches == [list(range(10))]


def test_it_never_sends_more_than_max_items_in_one_call():
    send = Recorder()
    gather = coalescer(send, window=3600, max_items=2)

    gather.submit([1, 2, 3])
    send.wait()

    assert send.batches == [[1, 2]]
    assert gather.pending() == 1


def test_it_sends_in_the_callers_thread_when_the_window_is_zero():
    send = Recorder()

    coalescer(send, window=0, max_items=2).submit([1, 2, 3])

    assert send.batches == [[1, 2], [3]]
    assert send.threads == [threading.current_thread().name] * 2


def test_it_sends_in_the_callers_thread_when_told_to_run_inline():
    send = Recorder()

    coalescer(send, window=3600, inline=True).submit([1])

    assert send.batches == [[1]]
    assert send.threads == [threading.current_thread().name]


def test_it_flushes_what_waits():
    send = Recorder()
    gather = coalescer(send, window=3600)
    gather.submit([1, 2])

    gather.flush()

    assert send.batches == [[1, 2]]
    assert gather.pending() == 0


def test_it_flushes_every_coalescer_at_exit():
    send = Recorder()
    gather = coalescer(send, window=3600)
    gather.submit([7])

    coalesce._flush_all()

    assert send.batches == [[7]]


def test_it_logs_a_failed_send_and_goes_on(caplog):
    send = Recorder(fail_first=True)
    gather = coalescer(send, window=0.01)

    gather.submit([1])
    send.wait()
    gather.submit([2])
    send.wait()

    assert send.batches == [[2]]
    assert "could not send 1 items" in caplog.text


def test_it_ignores_an_empty_submit():
    send = Recorder()

    coalescer(send, window=0).submit([])

    assert send.batches == []


def test_it_refuses_a_batch_size_below_one():
    with pytest.raises(ValueError, match="max_items"):
        coalescer(Recorder(), max_items=0)


def test_it_starts_empty_in_a_forked_child():
    send = Recorder()
    gather = coalescer(send, window=3600)
    gather.submit([1])  # waiting in the parent, with the parent's thread
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # the child: report what it inherited and whether it can send
        try:
            pending = gather.pending()
            sent: list[list[int]] = []
            child = Coalescer("child", sent.append, window=lambda: 0, max_items=10)
            child.submit([2])
            os.write(write_end, f"{pending} {sent}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    report = os.read(read_end, 100).decode()
    os.close(read_end)
    os.waitpid(pid, 0)

    assert report == "0 [[2]]"
    assert gather.pending() == 1


def test_it_runs_inline_when_celery_runs_tasks_eagerly(monkeypatch):
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)

    assert coalesce._in_celery_task_or_eager() is True


def test_it_runs_inline_inside_a_celery_task(monkeypatch):
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", False)
    seen: list[bool] = []

    @app.task
    def probe() -> None:
        seen.append(coalesce._in_celery_task_or_eager())

    probe.apply()  # runs the task in this thread, as a worker would

    assert coalesce._in_celery_task_or_eager() is False
    assert seen == [True]
