"""Running a rule's validators concurrently without a task each, when they do not need one.

A rule's validators nearly always finish without suspending (a regex, cue lists, names already in the
memory cache), yet `asyncio.gather` gave each a task: its scheduling, turns of the event loop to start
it and to collect the results, ~4-7 % of a coding-assistant request's instructions (two validators,
benchmarks/request_instructions.py). `gather_inline` steps the coroutines one after another in the
caller's task, each in a copy of the context as a task would have (a span one opens never becomes
another's parent). The first that suspends goes on in the caller's task, where its first step ran: a
timeout it entered (asyncio's, aiohttp's) captured that task, so it must be the one the timeout
cancels. Those after it start as tasks of their own, so waiting stays concurrent, and are gathered.
(Python 3.12's eager tasks do this for any task; 3.11 has no way to run a task's first step eagerly.)
"""

from __future__ import annotations

import asyncio
import contextvars
import types
from collections.abc import Coroutine, Generator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


async def gather_inline(coros: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """The coroutines' results in their order. An exception ends it: coroutines not started are
    closed, tasks started for them cancelled."""
    results: list[Any] = [None] * len(coros)
    for i, coro in enumerate(coros):
        context = contextvars.copy_context()
        try:
            first = context.run(coro.send, None)
        except StopIteration as done:
            results[i] = done.value
            continue
        except BaseException:
            for later in coros[i + 1 :]:
                later.close()
            raise
        rest = [asyncio.ensure_future(later) for later in coros[i + 1 :]]
        try:
            results[i] = await resume(coro, first, context)
            results[i + 1 :] = await asyncio.gather(*rest)
        except BaseException:
            for task in rest:
                task.cancel()
            raise
        break
    return results


@types.coroutine
def resume(
    coro: Coroutine[Any, Any, T], first: Any, context: contextvars.Context | None = None
) -> Generator[Any, Any, T]:
    """Go on awaiting a coroutine already stepped once (what `await` does, from its second step), in
    `context` if given (the one its first step ran in)."""
    run = context.run if context is not None else _call
    pending = first
    while True:
        try:
            sent = yield pending
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # a cancellation (a timeout's, the caller's) goes into the coroutine
            try:
                pending = run(coro.throw, exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                pending = run(coro.send, sent)
            except StopIteration as done:
                return done.value


def _call(fn: Any, arg: Any) -> Any:
    return fn(arg)
