"""Work posted to a worker of one thread (``tactful.server.executor.Worker.post``): what the
next-edit history follows of each ``didChange``. A burst runs as one job, in order, before any
job that came after it."""

from __future__ import annotations

import asyncio
import functools
import threading

import pytest

from tactful.server.executor import Worker


def _seen_after(worker: Worker, busy: threading.Event | None, ran: list[object]) -> list[object]:
    """What a job run after the posts sees of them (``busy`` let go first), the worker shut down."""

    async def after() -> list[object]:
        if busy is not None:
            busy.set()
        return await worker.run(lambda: list(ran))

    try:
        return asyncio.run(after())
    finally:
        worker.shutdown()


def test_a_burst_posted_while_the_worker_is_busy_runs_as_one_job_in_order() -> None:
    worker = Worker("test-posted", 1)
    busy = threading.Event()
    worker.submit(busy.wait, 10)
    ran: list[object] = []
    for number in range(50):
        worker.post(functools.partial(ran.append, number))

    seen = _seen_after(worker, busy, ran)
    # The job run after the posts saw every one of them, in the order they were posted.
    assert seen == list(range(50))
    assert worker.drains == 1


def test_posts_after_a_burst_began_running_run_in_a_job_of_their_own() -> None:
    worker = Worker("test-posted", 1)
    first_running = threading.Event()
    go_on = threading.Event()
    ran: list[object] = []

    def first() -> None:
        first_running.set()
        go_on.wait(10)
        ran.append("first")

    worker.post(first)
    assert first_running.wait(10)
    worker.post(lambda: ran.append("second"))
    go_on.set()

    seen = _seen_after(worker, None, ran)
    assert seen == ["first", "second"]
    assert worker.drains == 2


def test_a_post_that_fails_is_logged_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = Worker("test-posted", 1)
    busy = threading.Event()
    worker.submit(busy.wait, 10)
    ran: list[object] = []

    def fails() -> None:
        raise RuntimeError("broken")

    worker.post(lambda: ran.append("before"))
    worker.post(fails)
    worker.post(lambda: ran.append("after"))

    seen = _seen_after(worker, busy, ran)
    assert seen == ["before", "after"]
    assert "work posted to test-posted failed" in caplog.text


def test_only_a_worker_of_one_thread_takes_posts() -> None:
    worker = Worker("test-pool", 2)
    with pytest.raises(ValueError, match="one thread"):
        worker.post(lambda: None)
