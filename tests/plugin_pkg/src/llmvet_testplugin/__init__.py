"""Validators as a third party would write them: only llmvet's public contract is used."""

from __future__ import annotations

import asyncio
import time

from llmvet.validators import Context, Finding, Validator, ValidatorConfig, Verdict


class ShoutingConfig(ValidatorConfig):
    max_upper_ratio: float = 0.5


class ShoutingValidator(Validator):
    """Fails answers written mostly in capitals."""

    name = "shouting"
    Config = ShoutingConfig

    async def check(self, ctx: Context) -> Verdict:
        letters = [c for c in ctx.text if c.isalpha()]
        ratio = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
        if ratio > self.config.max_upper_ratio:
            return Verdict.failed(
                [
                    Finding(
                        "shouting",
                        "shouting.caps",
                        f"{ratio:.0%} capitals",
                        "low",
                        ratio,
                        (0, len(ctx.text)),
                        {"ratio": ratio},
                    )
                ]
            )
        return Verdict.passed()


class SleepyConfig(ValidatorConfig):
    seconds: float = 1.0
    warm_up_seconds: float = 0.0


class SleepyValidator(Validator):
    """Takes `seconds` to pass: for timeouts."""

    name = "sleepy"
    Config = SleepyConfig

    async def warm_up(self, resources) -> None:
        await asyncio.sleep(self.config.warm_up_seconds)

    async def check(self, ctx: Context) -> Verdict:
        await asyncio.sleep(self.config.seconds)
        return Verdict.passed()


class ExplodingValidator(Validator):
    """Always raises: for fail-open / fail-closed."""

    name = "explode"

    async def check(self, ctx: Context) -> Verdict:
        raise RuntimeError("validator bug")


class GrindingConfig(ValidatorConfig):
    seconds: float = 1.0


def _grind(seconds: float) -> int:
    """Pure-Python CPU work (holds the GIL between switches) for `seconds`."""
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        n += sum(range(1000))
    return n


class GrindingValidator(Validator):
    """Spends `seconds` of CPU in the thread pool, as a CPU-heavy validator should, then passes."""

    name = "grinding"
    Config = GrindingConfig

    async def check(self, ctx: Context) -> Verdict:
        await ctx.resources.run_cpu(_grind, self.config.seconds)
        return Verdict.passed()
