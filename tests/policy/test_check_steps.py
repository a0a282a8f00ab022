"""The engine runs a check without a timer when it never suspends; one that does is still timed out,
from its start, and cancellation still reaches it."""

import asyncio
import time
from typing import ClassVar

import pytest

from llmvet.policy.engine import evaluate
from llmvet.policy.loader import CompiledRule, CompiledValidator
from llmvet.policy.schema import Rule, ValidatorRef
from llmvet.validators.base import Context, Finding, Status, Validator, ValidatorConfig, Verdict


class Scripted(Validator[ValidatorConfig]):
    """A check that blocks, suspends and answers as each test says, and tells what happened to it."""

    name: ClassVar[str] = "scripted"

    def __init__(self, *, block: float = 0.0, sleeps: tuple[float, ...] = (), fail: bool = False) -> None:
        super().__init__(ValidatorConfig())
        self.block, self.sleeps, self.fail = block, sleeps, fail
        self.cancelled = False
        self.finished = False

    async def check(self, ctx: Context) -> Verdict:
        time.sleep(self.block)
        try:
            for s in self.sleeps:
                await asyncio.sleep(s)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.finished = True
        if self.fail:
            return Verdict.failed([Finding("scripted", "scripted.hit", f"saw {ctx.text!r}", "high", 0.9)])
        return Verdict.passed()


class Raising(Validator[ValidatorConfig]):
    name: ClassVar[str] = "raising"

    async def check(self, ctx: Context) -> Verdict:
        raise RuntimeError("broken before any await")


class FutureCheck(Validator[ValidatorConfig]):
    """`check` handing back a Future (an awaitable that is not a coroutine)."""

    name: ClassVar[str] = "future"

    def check(self, ctx: Context) -> asyncio.Future[Verdict]:  # type: ignore[override]
        fut: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, fut.set_result, Verdict.errored("from a future"))
        return fut


def rule_of(validator: Validator, timeout: float = 0.2) -> CompiledRule:
    ref = ValidatorRef.model_validate({"use": validator.name, "timeout": timeout})
    return CompiledRule(Rule(name="r", on_fail="block", on_error="closed"), [CompiledValidator(ref, validator)])


@pytest.mark.parametrize("sleeps", [(), (0, 0, 0.01)])
async def test_a_check_that_finishes_in_time_decides_whether_or_not_it_suspended(sleeps):
    v = Scripted(sleeps=sleeps, fail=True)
    decision = await evaluate(rule_of(v), Context(text="abc"))
    (run,) = decision.runs
    assert v.finished and not v.cancelled
    assert run.verdict.status is Status.FAILED and not run.timed_out
    assert [(f.code, f.message, f.id) for f in decision.findings] == [("scripted.hit", "saw 'abc'", "scripted")]
    assert decision.action == "block"


async def test_a_check_suspended_past_its_timeout_is_cancelled_and_an_error():
    v = Scripted(sleeps=(0, 30))
    decision = await evaluate(rule_of(v, timeout=0.1), Context(text="x"))
    (run,) = decision.runs
    assert v.cancelled and not v.finished  # the timeout's cancellation went into the check
    assert run.timed_out and run.verdict.status is Status.ERROR and decision.action == "block"
    assert "timed out after 0.1s" in (run.verdict.error or "")


async def test_time_blocked_before_the_first_suspension_counts_against_the_timeout():
    # 0.15 s blocked, then a long await: the deadline (0.1 s from the start) has passed already.
    v = Scripted(block=0.15, sleeps=(30,))
    decision = await evaluate(rule_of(v, timeout=0.1), Context(text="x"))
    (run,) = decision.runs
    assert v.cancelled and not v.finished
    assert run.timed_out and run.verdict.status is Status.ERROR


async def test_cancelling_the_request_cancels_a_suspended_check():
    v = Scripted(sleeps=(0, 30))
    task = asyncio.ensure_future(evaluate(rule_of(v, timeout=60), Context(text="x")))
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert v.cancelled and not v.finished


async def test_a_check_raising_before_any_await_is_an_error_and_one_returning_a_future_is_awaited():
    decision = await evaluate(rule_of(Raising(ValidatorConfig())), Context(text="x"))
    assert decision.runs[0].verdict.error == "RuntimeError: broken before any await"
    decision = await evaluate(rule_of(FutureCheck(ValidatorConfig())), Context(text="x"))
    assert decision.runs[0].verdict.error == "from a future"


def rule_of_all(*validators: Validator, timeout: float = 0.2) -> CompiledRule:
    refs = [ValidatorRef.model_validate({"use": v.name, "timeout": timeout}) for v in validators]
    compiled = [CompiledValidator(ref, v) for ref, v in zip(refs, validators, strict=True)]
    return CompiledRule(Rule(name="r", on_fail="block", on_error="open"), compiled)


@pytest.mark.parametrize("slow_first", [True, False])
async def test_of_two_validators_one_timing_out_ends_only_its_own_run(slow_first):
    # A validator's timeout ends only its own run; the other's verdict still counts.
    slow, quick = Scripted(sleeps=(0, 30)), Scripted(sleeps=(0, 0.01), fail=True)
    pair = (slow, quick) if slow_first else (quick, slow)
    decision = await evaluate(rule_of_all(*pair, timeout=0.1), Context(text="abc"))
    assert asyncio.current_task().cancelling() == 0
    by_check = {id(v): run for v, run in zip(pair, decision.runs, strict=True)}
    assert slow.cancelled and not slow.finished and by_check[id(slow)].timed_out
    assert quick.finished and by_check[id(quick)].verdict.status is Status.FAILED
    assert decision.action == "block"  # the failure blocks; the timeout fails open


async def test_of_two_validators_that_finish_at_once_both_verdicts_count():
    a, b = Scripted(fail=True), Scripted()
    decision = await evaluate(rule_of_all(a, b), Context(text="abc"))
    assert a.finished and b.finished
    assert [r.verdict.status for r in decision.runs] == [Status.FAILED, Status.PASSED]
