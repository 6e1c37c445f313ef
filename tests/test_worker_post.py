"""Work posted to a worker of one thread (``tactful.server.executor.Worker.post``): what the
next-edit history follows of each ``didChange``. A burst runs as one job, in order, before any
job that came after it."""

from __future__ import annotations

import asyncio
import functools
import threading

import pytest

from tactful.server.executor import Worker


def test_a_burst_posted_while_the_worker_is_busy_runs_as_one_job_in_order() -> None:
    worker = Worker("test-posted", 1)
    busy = threading.Event()
    worker.submit(busy.wait, 10)
    ran: list[int] = []
    for number in range(50):
        worker.post(functools.partial(ran.append, number))

    async def after() -> list[int]:
        busy.set()
        return await worker.run(lambda: list(ran))

    try:
        seen = asyncio.run(after())
    finally:
        worker.shutdown()
    # The job run after the posts saw every one of them, in the order they were posted.
    assert seen == list(range(50))
    assert worker.drains == 1


def test_posts_after_a_burst_began_running_run_in_a_job_of_their_own() -> None:
    worker = Worker("test-posted", 1)
    first_running = threading.Event()
    go_on = threading.Event()
    ran: list[str] = []

    def first() -> None:
        first_running.set()
        go_on.wait(10)
        ran.append("first")

    worker.post(first)
    assert first_running.wait(10)
    worker.post(lambda: ran.append("second"))
    go_on.set()

    async def after() -> list[str]:
        return await worker.run(lambda: list(ran))

    try:
        seen = asyncio.run(after())
    finally:
        worker.shutdown()
    assert seen == ["first", "second"]
    assert worker.drains == 2


def test_a_post_that_fails_is_logged_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = Worker("test-posted", 1)
    busy = threading.Event()
    worker.submit(busy.wait, 10)
    ran: list[str] = []

    def fails() -> None:
        raise RuntimeError("broken")

    worker.post(lambda: ran.append("before"))
    worker.post(fails)
    worker.post(lambda: ran.append("after"))

    async def after() -> list[str]:
        busy.set()
        return await worker.run(lambda: list(ran))

    try:
        seen = asyncio.run(after())
    finally:
        worker.shutdown()
    assert seen == ["before", "after"]
    assert "work posted to test-posted failed" in caplog.text


def test_only_a_worker_of_one_thread_takes_posts() -> None:
    worker = Worker("test-pool", 2)
    with pytest.raises(ValueError, match="one thread"):
        worker.post(lambda: None)
