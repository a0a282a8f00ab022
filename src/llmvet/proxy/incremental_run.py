"""One incremental stream's events and checks: what every segment check has cleared, event by event.

The events come in as the upstream sent them; each is forwarded as its own bytes once every part of
the answer it adds text to is cleared by every segment validator reading that part (see
`llmvet.proxy.incremental` for the response around it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

from llmvet.policy.engine import Decision, ValidatorRun, evaluate
from llmvet.policy.loader import CompiledValidator
from llmvet.policy.schema import SEVERITY
from llmvet.proxy import sse
from llmvet.proxy.answer import Answer, event_without_llmvet
from llmvet.proxy.errors import upstream_bad_response
from llmvet.proxy.exchange import Exchange
from llmvet.proxy.render import Renderer
from llmvet.proxy.runtime import Runtime
from llmvet.proxy.stream_text import StreamText
from llmvet.proxy.vetting import Vetter
from llmvet.proxy.wires import Part
from llmvet.proxy.wires.base import error_event_text
from llmvet.validators.base import ALL_PARTS, KEEP_FROM, PartKind, Status, Verdict

STOPS = ("block", "escalate", "reask")  # decisions that must stop text from flowing
# Per event, what it waits for: None (it adds no text), (part, the part's length after it), a list of
# those (it adds to several parts), or _HELD: it closes a choice or the stream, or repeats text whole.
Mark = tuple[StreamText, int] | list[tuple[StreamText, int]] | None
_HELD: list[tuple[StreamText, int]] = []  # events held to the end (only ever compared by identity)


class IncrementalRun:
    """One incremental stream: the upstream's events in, the client's bytes out."""

    def __init__(self, rt: Runtime, vetter: Vetter, render: Renderer, ex: Exchange) -> None:
        self.rt, self.vetter, self.render, self.ex = rt, vetter, render, ex
        self.wire = ex.wire
        modes = {cv.label: _mode(cv) for cv in ex.rule.validators}
        self.segment = [cv for cv in ex.rule.validators if modes[cv.label] == "segment"]
        self.at_end = [cv for cv in ex.rule.validators if modes[cv.label] != "segment"]
        self.hold_all = any(m == "buffer" for m in modes.values())
        self.events: list[sse.Event] = []
        self.marks: list[Mark] = []  # per event: what it waits for (see Mark)
        self.parts: dict[tuple[int, str], StreamText] = {}
        self.names: dict[str, str] = {}
        self.released = 0  # events sent so far
        self.parser = sse.SSEParser()
        self.decisions: list[Decision] = []
        self.stopped: Decision | None = None
        self.clean_ms: dict[str, float] = {}  # segment validators' time on windows they cleared cheaply
        self.early: dict[str, asyncio.Future[Any]] = {}  # whole-answer work begun with the request (re-asks)
        self.readers: dict[str, list[_Reader]] = {}  # part kind -> the segment validators reading it
        self.complete = False  # the upstream's stream said it is over ([DONE], a final response event)
        self.text_out = False  # has an event with text been released?
        self.assembled: list[Part] | None = None  # the answer's parts, once `finish` has assembled them

    def readers_of(self, kind: PartKind) -> list[_Reader]:
        found = self.readers.get(kind)
        if found is None:
            found = self.readers[kind] = [
                _Reader(cv, kind) for cv in self.segment if kind in getattr(cv.instance, "reads", ALL_PARTS)
            ]
        return found

    def start_early(self) -> None:
        """Let whole-answer validators begin what needs only the request, so it runs beside the stream."""
        ctx = self.vetter.context(self.ex, Part(0, "content", "content", ""))
        for cv in self.at_end:
            started = cv.instance.stream_start(ctx)
            if started is not None:
                self.early[cv.label] = asyncio.ensure_future(started)

    def cancel_early(self) -> None:
        for task in self.early.values():
            task.cancel()

    # ---- taking events in -------------------------------------------------------------------------
    def take(self, event: sse.Event) -> Awaitable[None] | None:
        """Take one event in. Most events (text every check calls clean) are taken here and now; for
        the rest, the checks still to run, to await."""
        data = event.data
        if data.__class__ is dict:
            if "llmvet" in data:
                event = event_without_llmvet(event)
                data = event.data
            error = error_event_text(data)
        else:
            error = None
        self.events.append(event)
        if error is None:
            deltas, terminal = self.wire.read_event(data, self.names)
        else:  # held to the end, its text checked whole like a finished choice's
            deltas, terminal = [(0, f"error#{len(self.events)}", "error", error)], True
        if terminal or len(deltas) != 1:
            return self.take_rest(event, deltas, terminal)
        choice, name, kind, delta = deltas[0]  # most events: one piece of one part's text
        part = self.parts.get((choice, name))
        if part is None:
            part = self.parts[(choice, name)] = self.new_part(choice, name, kind)
        part.add(delta)
        self.marks.append((part, part.length))
        return self.check_segments(part, final=False) if part.readers else None

    async def take_rest(self, event: sse.Event, deltas: list[tuple[int, str, PartKind, str]], terminal: bool) -> None:
        """An event that adds to several parts, or none, or closes a choice or the stream."""
        if deltas:
            await self.take_many(deltas, terminal)
        else:
            self.marks.append(_HELD if terminal else None)
        if terminal:  # a finished choice's text is whole: its last segment need not wait for the end
            for index in self.wire.finished_choices(event.data):
                for key, part in list(self.parts.items()):
                    if key[0] == index and part.readers:
                        await _done(self.check_segments(part, final=True))
            self.complete = self.complete or self.wire.stream_complete([event])

    async def take_many(self, deltas: list[tuple[int, str, PartKind, str]], terminal: bool) -> None:
        """An event adding to several parts (choices, tool calls): each part once, with its length after it."""
        touched: dict[tuple[int, str], StreamText] = {}
        for choice, name, kind, delta in deltas:
            part = self.parts.get((choice, name))
            if part is None:
                part = self.parts[(choice, name)] = self.new_part(choice, name, kind)
            part.add(delta)
            touched[(choice, name)] = part
        self.marks.append(_HELD if terminal else [(part, part.length) for part in touched.values()])
        for part in touched.values():
            if part.readers:
                await _done(self.check_segments(part, final=False))

    def new_part(self, choice: int, name: str, kind: PartKind) -> StreamText:
        part = StreamText(choice, kind, name)
        part.readers = self.readers_of(kind)
        part.released = 0 if part.readers else -1  # nothing reads it: it never holds text
        for r in part.readers:
            part.state[r.label] = {}
            part.cleared[r.label] = 0
        part.ahead = any(r.ahead is not None for r in part.readers)
        return part

    async def take_chunk(self, chunk: bytes) -> list[bytes]:
        """Take the events a chunk completes; what may go out, cleared event by event, so text before a
        flagged span goes out however the upstream's bytes were split into chunks."""
        out: list[bytes] = []
        try:
            events = self.parser.feed(chunk)
        except sse.StreamError as exc:
            raise upstream_bad_response(str(exc)) from None
        for event in events:
            checks = self.take(event)
            if checks is not None:
                await checks
            if self.stopped is not None:
                break
            if not self.hold_all:
                self.release_into(out)
        return out

    def check_segments(self, part: StreamText, final: bool) -> Awaitable[None] | None:
        """Check the part's text each of its readers can now release; release what all of them cleared.
        Windows a reader calls clean are cleared here and now; None when that was all, else the checks
        of the other windows, to await (most events run no coroutine)."""
        tail: Any = part.tail  # read like the whole text so far
        cleared_at, states = part.cleared, part.state
        flagged: list[tuple[_Reader, int, str, int]] | None = None
        for r in part.readers:
            label = r.label
            cleared = cleared_at[label]
            start, end, release = r.window(tail, states[label], cleared, final)
            if end <= start or release <= cleared:
                continue
            cleared_at[label] = release
            window = tail.rest[start - tail.base : end - tail.base]  # tail[start:end]
            began = perf_counter()
            if r.clean(window):
                r.clean_s += perf_counter() - began
            elif flagged is None:
                flagged = [(r, start, window, release)]
            else:
                flagged.append((r, start, window, release))
        if flagged is not None:
            return self.check_windows(part, final, flagged)
        self.settle(part, final)
        return None

    async def check_windows(self, part: StreamText, final: bool, windows: list[tuple[_Reader, int, str, int]]) -> None:
        """Run the checks of windows not called clean, then release what every reader cleared."""
        for r, start, window, release in windows:
            state = part.state[r.label]
            decision = await evaluate(self.ex.rule, self.context(part, window, not final, state), only=[r.cv])
            _shift_spans(decision, start)
            _keep_findings(decision, release, state.setdefault("reported", set()))
            self.decisions.append(decision)
            if decision.action in STOPS and self.stopped is None:
                self.stopped = decision
        self.settle(part, final)

    def settle(self, part: StreamText, final: bool) -> None:
        """After the checks: start readers' work ahead, move the part's release point, drop text read."""
        tail, readers, cleared_at, states = part.tail, part.readers, part.cleared, part.state
        if part.ahead and not final and self.stopped is None:
            for r in readers:
                if r.ahead is not None:
                    r.ahead(tail, states[r.label], self.rt.resources)
        if len(readers) == 1:
            label = readers[0].label
            part.released = released = cleared_at[label]
            keep = states[label].get(KEEP_FROM, released)  # where the reader may still read from
            keep = released if keep > released else keep
        else:
            part.released = min(cleared_at[r.label] for r in readers)
            keep = min(part.keep_from(r.label) for r in readers)
        if keep > tail.base:  # text every reader has released (and will not re-read) is never read again
            tail.drop_before(keep)

    def context(self, part: StreamText, text: str, partial: bool = False, state: dict[str, Any] | None = None) -> Any:
        ctx = self.vetter.context(self.ex, Part(part.choice, part.name.split("#")[0], part.kind, text))
        ctx.partial, ctx.stream_state = partial, state
        return ctx

    # ---- what may go out --------------------------------------------------------------------------
    def release_into(self, out: list[bytes]) -> None:
        """Add the raw bytes of the events every segment check has cleared, in order, to `out`."""
        events, marks = self.events, self.marks
        i, n = self.released, len(events)
        while i < n:
            mark = marks[i]
            if mark is not None:
                if isinstance(mark, tuple):  # one part: is its text up to the event's end cleared?
                    if 0 <= mark[0].released < mark[1]:
                        break
                elif mark is _HELD or any(0 <= part.released < length for part, length in mark):
                    break
                self.text_out = True
            out.append(events[i].raw)
            i += 1
        self.released = i

    # ---- the end ------------------------------------------------------------------------------------
    async def finish(self) -> Decision:
        """Check the tails, reconcile with the assembled answer, run the whole-answer checks."""
        for text in list(self.parts.values()):
            if text.readers:
                await _done(self.check_segments(text, final=True))
        assembled = self.assembled = self.ex.wire.vetted_stream_parts(self.events)
        wholes = {p.whole() for p in self.parts.values()}
        for part in assembled:  # text the deltas did not carry (a final snapshot that says more): check it whole
            if part.text and part.text not in wholes:
                self.decisions.append(
                    await evaluate(self.ex.rule, self.vetter.context(self.ex, part), only=self.segment)
                )
        if self.at_end:
            self.decisions += await asyncio.gather(*(self.check_whole(p, cv) for p in assembled for cv in self.at_end))
        self.cancel_early()  # begun, but no part needed it (e.g. the answer was all tool calls)
        return self.decision()

    async def check_whole(self, part: Part, cv: CompiledValidator) -> Decision:
        ctx = self.vetter.context(self.ex, part)
        ctx.early = self.early.get(cv.label)
        return await evaluate(self.ex.rule, ctx, only=[cv])

    async def final_decision(self) -> Decision:
        if self.stopped is not None:
            self.cancel_early()
            return self.decision()
        return await self.finish()

    def decision(self) -> Decision:
        """One decision from every segment and end check: one run per validator, the strictest action."""
        runs: dict[str, ValidatorRun] = {}
        for run in (r for d in self.decisions for r in d.runs):
            seen = runs.get(run.label)
            runs[run.label] = run if seen is None else _merged(seen, run)
        for r in (r for readers in self.readers.values() for r in readers):
            if r.clean_s:
                self.clean_ms[r.label] = self.clean_ms.get(r.label, 0.0) + r.clean_s * 1000
                r.clean_s = 0.0
        for label, ms in self.clean_ms.items():  # checked, and every window was clean: it passed
            if label not in runs:
                runs[label] = ValidatorRun(label, Verdict.passed(), ms, "allow")
            else:
                runs[label].elapsed_ms += ms
        action = max((r.action for r in runs.values()), key=SEVERITY.__getitem__, default="allow")
        return Decision(action, self.ex.rule.name, list(runs.values()))

    def answer(self, headers: dict[str, str]) -> Answer:
        if self.assembled is None:
            text = self.ex.wire.stream_text(self.events)
        else:  # the parts `finish` assembled: the same first content part stream_text would find
            text = next((p.text for p in self.assembled if p.label == "content"), "")
        return Answer(200, headers, events=self.events, text=text)


class _Reader:
    """A segment validator reading one kind of part, with its hooks looked up once per stream."""

    __slots__ = ("ahead", "clean", "clean_s", "cv", "label", "window")

    def __init__(self, cv: CompiledValidator, kind: PartKind) -> None:
        self.cv, self.label = cv, cv.label
        self.clean_s = 0.0  # time spent on windows it called clean
        self.window: Callable[[Any, dict[str, Any], int, bool], tuple[int, int, int]] = cv.instance.stream_window
        self.clean: Callable[[str], bool] = cv.instance.stream_clean
        self.ahead = getattr(cv.instance, "stream_ahead", None)
        if kind in getattr(cv.instance, "whole_in_streams", ()):
            self.window, self.clean, self.ahead = _whole_window, _never_clean, None


def _whole_window(text: Any, state: dict[str, Any], cleared: int, final: bool) -> tuple[int, int, int]:
    """A part checked once, whole, at its end (`whole_in_streams`): nothing is released before."""
    return (cleared, len(text), len(text)) if final else (cleared, cleared, cleared)


def _never_clean(window: str) -> bool:
    return False


_STATUS_RANK = {Status.PASSED: 0, Status.ERROR: 1, Status.FAILED: 2}


def _merged(a: ValidatorRun, b: ValidatorRun) -> ValidatorRun:
    """Two checks of one validator (two segments) as one run: the worse verdict, every finding."""
    worse = a.verdict if _STATUS_RANK[a.verdict.status] >= _STATUS_RANK[b.verdict.status] else b.verdict
    verdict = Verdict(
        worse.status,
        max(a.verdict.risk, b.verdict.risk),
        [*a.verdict.findings, *b.verdict.findings],
        {**a.verdict.meta, **b.verdict.meta},
        worse.error,
    )
    action = max(a.action, b.action, key=SEVERITY.__getitem__)
    return ValidatorRun(a.label, verdict, a.elapsed_ms + b.elapsed_ms, action, a.timed_out or b.timed_out)


async def _done(checks: Awaitable[None] | None) -> None:
    if checks is not None:
        await checks


def _mode(cv: CompiledValidator) -> str:
    mode = getattr(cv.instance, "stream_mode", None)
    return mode() if callable(mode) else "buffer"


def _keep_findings(decision: Decision, release: int, reported: set[tuple[int, int]]) -> None:
    """Drop findings that start in text not yet released (a later window decides them) or that an
    earlier window already reported; a run left without findings passes."""
    for run in decision.runs:
        kept = [f for f in run.verdict.findings if f.span is None or (f.span[0] < release and f.span not in reported)]
        reported.update(f.span for f in kept if f.span is not None)
        if len(kept) != len(run.verdict.findings):
            run.verdict.findings = kept
            if not kept and run.verdict.status is Status.FAILED:
                run.verdict.status, run.action = Status.PASSED, "allow"
    decision.action = max((r.action for r in decision.runs), key=SEVERITY.__getitem__, default="allow")


def _shift_spans(decision: Decision, offset: int) -> None:
    """Spans of a segment check point into the segment; make them point into the part's whole text."""
    if offset:
        for f in decision.findings:
            if f.span is not None:
                f.span = (f.span[0] + offset, f.span[1] + offset)
