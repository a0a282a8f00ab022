"""gather_inline: a rule's validators run without a task each when they finish at once, concurrently
when they wait, each in its own copy of the context, and a timeout one of them sets still ends only it."""

import asyncio
import contextvars
import inspect

import pytest

from llmvet.policy.inline import gather_inline

seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="caller")


async def at_once(name: str, log: list) -> str:
    log.append((name, asyncio.current_task(), seen.get()))
    seen.set(name)  # must not leak into the caller or the next coroutine
    return name


async def waiting(name: str, log: list, until: asyncio.Event) -> str:
    seen.set(name)
    log.append((name, asyncio.current_task(), "start"))
    await until.wait()
    log.append((name, asyncio.current_task(), seen.get()))  # its own value, after the suspension too
    return name


async def test_coroutines_that_finish_at_once_run_in_the_callers_task_in_their_own_contexts():
    log: list = []
    me = asyncio.current_task()
    assert await gather_inline([at_once("a", log), at_once("b", log), at_once("c", log)]) == ["a", "b", "c"]
    assert log == [("a", me, "caller"), ("b", me, "caller"), ("c", me, "caller")]
    assert seen.get() == "caller"


async def test_the_first_to_wait_goes_on_in_the_callers_task_and_the_rest_wait_concurrently():
    log: list = []
    me = asyncio.current_task()
    first_done, later_done = asyncio.Event(), asyncio.Event()

    async def releases(name: str) -> str:
        later_done.set()  # the waiting coroutine before it can only finish if this one runs meanwhile
        await first_done.wait()
        return name

    async def first() -> str:
        out = await waiting("w", log, later_done)
        first_done.set()
        return out

    async with asyncio.timeout(5):  # (not wait_for: that would run it in a task of its own)
        got = await gather_inline([at_once("a", log), first(), releases("r"), at_once("z", log)])
    assert got == ["a", "w", "r", "z"]
    assert log[0] == ("a", me, "caller")
    assert log[1] == ("w", me, "start") and log[-1][:2] == ("w", me) and log[-1][2] == "w"
    (z,) = [entry for entry in log if entry[0] == "z"]
    assert z[1] is not me and z[2] == "caller"  # started as a task of its own, from the caller's context
    assert seen.get() == "caller"


async def test_a_timeout_entered_before_the_first_suspension_ends_only_that_coroutine():
    # asyncio.timeout (as aiohttp's timers) remembers the task it was entered in and cancels that one:
    # the coroutine must go on in that same task, or the timeout would cancel the caller.
    never = asyncio.Event()

    async def times_out() -> str:
        try:
            async with asyncio.timeout(0.05):
                await never.wait()
        except TimeoutError:
            return "timed out"
        return "finished"

    async def slow_neighbour() -> str:
        await asyncio.sleep(0.1)
        return "neighbour"

    assert await gather_inline([times_out(), slow_neighbour()]) == ["timed out", "neighbour"]
    assert asyncio.current_task().cancelling() == 0


async def test_an_exception_in_a_first_step_closes_the_coroutines_not_started():
    async def broken() -> str:
        raise KeyboardInterrupt  # BaseException: the engine's own runs turn Exceptions into verdicts

    log: list = []
    later = [at_once("x", log), at_once("y", log)]
    with pytest.raises(KeyboardInterrupt):
        await gather_inline([at_once("a", log), broken(), *later])
    assert [inspect.getcoroutinestate(c) for c in later] == [inspect.CORO_CLOSED] * 2
    assert [entry[0] for entry in log] == ["a"]


async def test_cancelling_the_caller_cancels_the_waiting_coroutine_and_the_tasks_of_the_rest():
    cancelled: list[str] = []

    async def forever(name: str) -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise
        return name

    task = asyncio.ensure_future(gather_inline([forever("first"), forever("second"), forever("third")]))
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(5):
        await asyncio.sleep(0)
    assert sorted(cancelled) == ["first", "second", "third"]
