"""CPU-bound checks keep their timeout, and the event loop stays free while they run."""

import threading
import time
from typing import ClassVar

import httpx
import openai
import pytest

from llmvet.policy.engine import evaluate
from llmvet.policy.loader import CompiledRule, CompiledValidator
from llmvet.policy.schema import Rule, ValidatorRef
from llmvet.resources import Resources
from llmvet.store import open_store
from llmvet.validators.base import Context, Status, Validator, ValidatorConfig, Verdict
from tests.support.fake_upstream import Reply


class LoopBlocker(Validator[ValidatorConfig]):
    """Blocks the event loop (a sync sleep inside `check`): the timeout cannot interrupt it."""

    name: ClassVar[str] = "loop-blocker"

    async def check(self, ctx: Context) -> Verdict:
        time.sleep(0.4)
        return Verdict.passed()


class ThreadBlocker(Validator[ValidatorConfig]):
    """Does its slow work in the thread pool, as it should; records when that work ends."""

    name: ClassVar[str] = "thread-blocker"
    finished = threading.Event()

    async def check(self, ctx: Context) -> Verdict:
        assert ctx.resources is not None
        await ctx.resources.run_cpu(self._work)
        return Verdict.passed()

    def _work(self) -> None:
        time.sleep(1.5)
        self.finished.set()


def rule_with(validator: Validator, on_error: str) -> CompiledRule:
    ref = ValidatorRef.model_validate({"use": validator.name, "timeout": 0.1})
    rule = Rule(name="r", on_fail="block", on_error=on_error)  # type: ignore[arg-type]
    return CompiledRule(rule, [CompiledValidator(ref, validator)])


@pytest.mark.parametrize("on_error,action", [("open", "allow"), ("closed", "block")])
async def test_a_check_that_blocks_the_loop_past_its_timeout_is_an_error(on_error, action):
    decision = await evaluate(rule_with(LoopBlocker(ValidatorConfig()), on_error), Context(text="x"))
    (run,) = decision.runs
    assert run.verdict.status is Status.ERROR and run.timed_out  # its late "passed" does not count
    assert "timed out after 0.1s" in (run.verdict.error or "")
    assert decision.action == action


@pytest.mark.parametrize("on_error,action", [("open", "allow"), ("closed", "block")])
async def test_a_check_in_the_thread_pool_is_cut_off_at_its_timeout(on_error, action, tmp_path):
    resources = Resources(await open_store(f"sqlite:///{tmp_path / 'db'}"))
    try:
        ThreadBlocker.finished.clear()
        rule = rule_with(ThreadBlocker(ValidatorConfig()), on_error)
        decision = await evaluate(rule, Context(text="x", resources=resources))
        assert not ThreadBlocker.finished.is_set()  # the verdict came before the slow work ended
        (run,) = decision.runs
        assert run.verdict.status is Status.ERROR and run.timed_out
        assert decision.action == action
    finally:
        await resources.close()


GRINDING = """
rules:
  - name: vet
    validators:
      - {use: grinding, with: {seconds: 4}, timeout: 30}
    on_fail: block
"""


def test_health_answers_while_a_slow_check_runs(fake, make_proxy, test_plugin):
    fake.reset(lambda b: Reply(text="an answer"))
    proxy = make_proxy(GRINDING)
    answered: list[float] = []

    def ask() -> None:
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
        answered.append(time.monotonic())

    seen = len(fake.requests)
    slow = threading.Thread(target=ask)
    slow.start()
    while len(fake.requests) == seen:  # the upstream answered: the 4 s check is starting
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the check now
    for _ in range(5):
        assert httpx.get(proxy.url + "/healthz", timeout=30).json() == {"status": "ok"}
    health_done = time.monotonic()
    slow.join(30)
    # The bound is the check itself: every health probe came back while it was still grinding.
    assert answered and health_done < answered[0]


CATASTROPHIC = r"""
rules:
  - name: vet
    validators:
      - {use: regex, with: {must_not_match: ['^(\w+\s?)+$']}, timeout: 1}
    on_fail: block
    on_error: closed
"""


@pytest.mark.parametrize(
    "answer,decision,status",
    [("a" * 53 + "!", "allow", "passed"), ("words " * 9 + "end", "block", "failed")],
)
def test_the_backtracking_pattern_from_the_issue_decides_within_its_timeout(fake, make_proxy, answer, decision, status):
    # With Python's re the first answer took ~8 s on the loop: past the 1 s timeout, so now an error
    # (and, failing closed, a block). RE2 decides it, either way, within the timeout.
    fake.reset(lambda b: Reply(text=answer))
    r = httpx.post(
        make_proxy(CATASTROPHIC).url + "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "q"}]},
        timeout=60,
    )
    assert r.headers["x-llmvet-decision"] == decision
    if decision == "allow":
        assert r.json()["choices"][0]["message"]["content"] == answer
    else:
        assert r.status_code == 422 and r.json()["llmvet"]["validators"][0]["status"] == status
        assert b"(\\w+" not in r.content  # the pattern is not disclosed
