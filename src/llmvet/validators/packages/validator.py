"""The `packages` validator: hallucinated, placeholder and slopsquatted packages in an answer.

One check: extract the references, settle what policy settles (allow/deny lists, reviewer
allowlist, conda), look the rest up (memory cache first), then let the Judge grade each answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Collection, Iterable
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar

from llmvet import spans
from llmvet.store import keys
from llmvet.text import CodeBlock
from llmvet.validators.base import (
    Context,
    Finding,
    PartKind,
    Status,
    StreamMode,
    Validator,
    ValidatorConfig,
    Verdict,
    at_raw_spans,
)
from llmvet.validators.packages.arguments import arguments_view, string_blocks
from llmvet.validators.packages.codes import CODES, DEFAULT_FAIL_ON
from llmvet.validators.packages.config import PackagesConfig
from llmvet.validators.packages.extract import Extraction, Ref, extract
from llmvet.validators.packages.import_map import distribution_for
from llmvet.validators.packages.judge import Job, Judge, finding, job_key, matches, norm_name
from llmvet.validators.packages.registry import (
    Index,
    Lookup,
    RegistryClient,
    cache_counts,
    json_api_for,
    npm_registry_url,
    pip_index_url,
)
from llmvet.validators.packages.second_round import SecondRound
from llmvet.validators.packages.signals import popular, popular_names
from llmvet.validators.packages.streaming import LOCAL_CONTEXT, OWN, line_window, names_ahead
from llmvet.validators.packages.streaming import clean as streaming_clean

if TYPE_CHECKING:
    from llmvet.resources import Resources

# CODES and DEFAULT_FAIL_ON stay importable from here for callers of the old module
__all__ = ["CODES", "DEFAULT_FAIL_ON", "PackagesConfig", "PackagesValidator"]

_INLINE_LIMIT = 20_000  # longer answers are parsed in the thread pool
_JobMap = dict[tuple[str, str], Job]
_Lookups = dict[tuple[str, str], Lookup]
_Route = tuple["Index | None", str, tuple[str, str]]
_RISK = attrgetter("risk")
_NO_REFS = {"packages_checked": 0, "references": 0, "unchecked": 0}  # (copied for each verdict)

log = logging.getLogger("llmvet.packages")


class PackagesValidator(Validator[PackagesConfig]):
    name: ClassVar[str] = "packages"
    # install lines and imports also hide in tool-call arguments (code a tool will run) and reasoning
    reads: ClassVar[frozenset[PartKind]] = frozenset(("content", "reasoning", "tool_arguments"))
    # Streamed tool-call arguments are read whole: their lines and words are JSON's, not the text's,
    # and an escaped tool name (`p\u0069p install`) would pass a window's raw cheap check.
    whole_in_streams: ClassVar[frozenset[PartKind]] = frozenset(("tool_arguments",))

    Config: ClassVar[type[ValidatorConfig]] = PackagesConfig

    def stream_mode(self) -> StreamMode:
        return "segment"

    def stream_window(self, text: str, state: dict[str, Any], cleared: int, final: bool) -> tuple[int, int, int]:
        # whole lines, code-block lines read with their block's fence (its language decides how they are read)
        return line_window(text, state, cleared, final)

    def stream_clean(self, text: str) -> bool:
        return streaming_clean(text)

    def stream_ahead(self, text: str, state: dict[str, Any], resources: Resources | None) -> None:
        """Start the lookups of names already complete in the line being written (the check joins them)."""
        if resources is None:
            return
        items = []
        for ref in names_ahead(text, state, self.config.check_imports):
            index, name = (None, "") if self._by_policy(ref, ())[0] else self._target(ref)
            if index is not None and self.client.peek(index, name) is None:
                items.append((index, name))
        if items:
            task = asyncio.ensure_future(self.client.lookup_many(resources, items))
            self._ahead.add(task)  # held until done: the loop keeps only weak references to tasks
            task.add_done_callback(self._ahead_done)

    def _ahead_done(self, task: asyncio.Future[Any]) -> None:
        self._ahead.discard(task)
        if not task.cancelled() and task.exception() is not None:  # the check will look up again and say why
            log.debug("early lookup failed: %s", task.exception())

    def __init__(self, config: PackagesConfig) -> None:
        super().__init__(config)
        c = config
        pypi = c.pypi_index_url or pip_index_url()
        json_url = c.pypi_json_url if c.pypi_json_url is not None else json_api_for(pypi)
        self.pypi = Index("pypi", pypi, json_url or None)
        self.npm = Index("npm", c.npm_registry_url or npm_registry_url())
        self.private = (
            Index("pypi", c.private_index_url, json_api_for(c.private_index_url)) if c.private_index_url else None
        )
        self.client = RegistryClient(
            positive_ttl=c.positive_ttl,
            negative_ttl=c.negative_ttl,
            stale_ttl=c.stale_ttl,
            concurrency=c.concurrency,
            timeout=c.lookup_timeout,
            namespace=c.cache_namespace,
        )
        self.judge = Judge(c, self.private)
        self._ecosystems = frozenset(c.ecosystems)
        self._fail_on = frozenset(c.fail_on) | ({"package.unverified"} if c.registry_unreachable == "closed" else set())
        self._popular_built: set[str] = set()  # ecosystems whose popular-names index this process has
        self._ahead: set[asyncio.Future[Any]] = set()
        self._routes: dict[tuple[str, str, bool, str], _Route] = {}  # see _route
        checked = {e: self.pypi if e == "pypi" else self.npm for e in self._ecosystems}
        other_index = {e: checked.get("npm" if e == "pypi" else "pypi") for e in ("pypi", "npm")}
        self.second_round = SecondRound(self.client, self.judge, self.private, other_index)

    def problems(self) -> list[str]:
        out = []
        for eco, path in (("pypi", self.config.popular_pypi_file), ("npm", self.config.popular_npm_file)):
            try:
                popular(eco, path)  # readable? (the lookalike index is built in warm_up or when first needed)
            except OSError as e:
                out.append(f"popular {eco} names file unreadable: {e}")
        if self.config.private_prefixes and not self.config.private_index_url:
            out.append("private_prefixes is set but private_index_url is not: every private name will be reported")
        return out

    async def warm_up(self, resources: Resources) -> None:
        """The proxy builds the lookalike indexes before traffic; a one-off scan builds only what it uses."""
        await self._build_popular(resources, self._ecosystems)

    async def _build_popular(self, resources: Resources, ecosystems: Iterable[str]) -> None:
        for eco in set(ecosystems) - self._popular_built:  # once per process, off the loop (popular_names keeps it)
            path = self.config.popular_file(eco)
            await resources.singleton(("llmvet.packages.popular", eco, path), partial(popular_names, eco, path))
            self._popular_built.add(eco)

    # ------------------------------------------------------------ the check

    async def check(self, ctx: Context) -> Verdict:
        t0 = time.perf_counter()
        blocks = view = None
        if ctx.part_kind == "tool_arguments":  # (JSON text: read as the tool will read it, strings as code)
            view = arguments_view(ctx.text)
            ctx = dataclasses.replace(ctx, text=view.text)
            blocks = ctx.code_blocks + string_blocks(view)
        # (an answer parsed inline, as most are, without a coroutine of its own)
        ex = self._extract_inline(ctx, blocks) if len(ctx.text) <= _INLINE_LIMIT else await self._extract(ctx, blocks)
        # Most answers name only packages already in the memory cache and earn no finding; the
        # reviewer allowlist (a store read) can only take findings away, so it is read only when
        # there is one to take away, or a name to look up.
        # (most answers name no package: what _judged gives for none, without its steps)
        verdict = await self._judged(ctx, ex.refs, (), warm_only=True) if ex.refs else self._verdict([], dict(_NO_REFS))
        if verdict is None or verdict.findings:
            reviewed = await self._reviewer_allowed(ctx, ex.refs)
            if verdict is None or reviewed:  # (with nothing allowed, the verdict stands as judged)
                verdict = await self._judged(ctx, ex.refs, reviewed)
                assert verdict is not None
        verdict.meta["ms"] = round((time.perf_counter() - t0) * 1000, 3)
        return verdict if view is None else dataclasses.replace(verdict, findings=at_raw_spans(verdict.findings, view))

    async def _judged(
        self, ctx: Context, refs: list[Ref], reviewed: Collection[tuple[str, str]], warm_only: bool = False
    ) -> Verdict | None:
        """The verdict on `refs`; with `warm_only`, None unless every name is in the memory cache."""
        findings: list[Finding] = []
        jobs = self._plan(refs, reviewed, findings)
        if warm_only:
            if findings:
                return None
            # every answer in memory (most): no lookup coroutine; the jobs a registry lacks noted as read
            lookups: _Lookups = {}
            missing: list[Job] = []
            peek, now = self.client.peek, time.time()  # (one clock read for the answer's names)
            for (iid, _), job in jobs.items():
                name = job.name
                hit = peek(job.index, name, now)
                if hit is None:
                    return None
                lookups[(iid, name)] = hit
                if hit.status == "missing":
                    missing.append(job)
            if missing:
                await self.second_round.run(ctx.resources, missing)
        else:
            lookups = await self._lookup(ctx, jobs) if jobs else {}
        now = time.time()
        if jobs and ctx.resources is not None and len(self._popular_built) != len(self._ecosystems):
            await self._load_popular(ctx, jobs)  # (popular_names keeps what it built: no await once all are)
        unchecked = self.judge.judge_all(jobs, lookups, now, findings)
        meta = {"packages_checked": len(jobs), "references": len(refs), "unchecked": unchecked}
        return self._verdict(findings, meta)

    def _extract_inline(self, ctx: Context, blocks: list[CodeBlock] | None = None) -> Extraction:
        """The answer's references, parsed on the loop (most answers: no `partial`, no coroutine);
        `blocks`: the code blocks to read, when not only the fenced ones (`ctx.code_blocks`)."""
        blocks = ctx.code_blocks if blocks is None else blocks
        state = ctx.stream_state
        if state is None:
            return extract(ctx.text, blocks, imports=self.config.check_imports)
        return self._remember(state, extract(ctx.text, blocks, **self._window(state)))

    async def _extract(self, ctx: Context, blocks: list[CodeBlock] | None = None) -> Extraction:
        """A long answer's references, parsed in the thread pool (on the loop without one)."""
        blocks = ctx.code_blocks if blocks is None else blocks
        if ctx.resources is None:
            return self._extract_inline(ctx, blocks)
        state = ctx.stream_state
        run = partial(extract, **self._window(state or {}))
        found: Extraction = await ctx.resources.run_cpu(run, ctx.text, blocks)
        return found if state is None else self._remember(state, found)

    def _window(self, state: dict[str, Any]) -> dict[str, Any]:
        # a stream's window: earlier lines may name files (`auth.py`) or projects (setup.py's name=) the
        # answer defines, so `import auth` is its own module, as on the whole answer
        return {
            "imports": self.config.check_imports,
            "context": state.get(LOCAL_CONTEXT, ""),
            "defined": state.get(OWN, ()),
        }

    @staticmethod
    def _remember(state: dict[str, Any], found: Extraction) -> Extraction:
        state[OWN] = found.own | found.local_modules  # what later windows of the stream must know
        return found

    def _plan(self, refs: list[Ref], reviewed: Collection[tuple[str, str]], findings: list[Finding]) -> _JobMap:
        """Group the refs that need a lookup by (registry, name); findings policy settles go to `findings`."""
        jobs: _JobMap = {}
        c = self.config
        lists = bool(c.allowlist or c.denylist or reviewed)
        checked, routes = self._ecosystems, self._routes  # (conda is never a checked ecosystem)
        for ref in refs:
            eco = ref.ecosystem
            # (_by_policy can settle only these: conda, an ecosystem not checked, a policy with lists)
            if lists or eco not in checked:
                settled, found = self._by_policy(ref, reviewed)
                if found is not None:
                    findings.append(found)
                if settled:
                    continue
            rk = (eco, ref.name, ref.kind == "import", ref.module)  # (what _target reads)
            route = routes.get(rk)
            if route is None:
                route = self._route(rk, ref)
            index, lookup_name, key = route
            if index is None:
                continue
            job = jobs.get(key)
            if job is None:
                if len(jobs) >= c.max_references:
                    findings.append(
                        finding(
                            ref,
                            "package.unverified",
                            f"{ref.name!r} not checked: too many names",
                            {"ecosystem": ref.ecosystem, "reason": "max_references"},
                            "max_references",
                        )
                    )
                    continue
                jobs[key] = Job(index, lookup_name, [ref])  # (its first ref given: no list made, then added to)
                continue
            job.refs.append(ref)
        return jobs

    def _route(self, rk: tuple[str, str, bool, str], ref: Ref) -> _Route:
        """Where `ref`'s name is looked up and its job's key, remembered per process by what decides them."""
        index, lookup_name = self._target(ref)
        route = (index, lookup_name, (index.id, job_key(index, lookup_name)) if index is not None else ("", ""))
        if len(self._routes) >= 20_000:
            self._routes.clear()
        self._routes[rk] = route
        return route

    def _by_policy(self, ref: Ref, reviewed: Collection[tuple[str, str]]) -> tuple[bool, Finding | None]:
        """Whether the policy settles `ref` without a lookup, and the finding that gives, if any."""
        c = self.config
        if ref.ecosystem == "conda":
            if c.conda == "not_checked":
                return True, finding(
                    ref, "package.not_checked", f"conda package {ref.name!r} was not checked", {"ecosystem": "conda"}
                )
            return True, None
        if ref.ecosystem not in self._ecosystems:
            return True, None
        if not (c.allowlist or reviewed or c.denylist):
            return False, None  # (the usual policy: nothing to match)
        norm = norm_name(ref)
        if matches(norm, ref.name, c.allowlist) or (ref.ecosystem, norm) in reviewed:
            return True, None
        if matches(norm, ref.name, c.denylist):
            return True, finding(
                ref, "package.denied", f"{ref.name!r} is on the policy's denylist", {"ecosystem": ref.ecosystem}
            )
        return False, None

    async def _lookup(self, ctx: Context, jobs: _JobMap) -> _Lookups:
        """Every job's answer: from memory, else looked up."""
        lookups: _Lookups = {}
        # Warm path: everything in memory, no awaiting.
        pending = []
        for (iid, _), job in jobs.items():
            hit = self.client.peek(job.index, job.name)
            if hit is None:
                pending.append((job.index, job.name))
            else:
                lookups[(iid, job.name)] = hit
        if pending:
            if ctx.resources is None:
                raise RuntimeError("the packages validator needs ctx.resources (store and HTTP session)")
            ecosystems = sorted({index.ecosystem for index, _ in pending})
            attributes: dict[str, spans.AttributeValue] = {
                "llmvet.registry.ecosystems": ecosystems,
                "llmvet.registry.memory_hits": len(lookups),
            }
            with spans.span("llmvet registry lookup", attributes) as span:
                found = await self.client.lookup_many(ctx.resources, pending)
                if span is not None:
                    span.set_attributes(cache_counts(found.values()))
            lookups.update(found)
        missing = []
        for (iid, _), job in jobs.items():
            lk = lookups.get((iid, job.name))
            if lk is not None and lk.status == "missing":
                missing.append(job)
        if missing:
            await self.second_round.run(ctx.resources, missing)
        return lookups

    async def _load_popular(self, ctx: Context, jobs: _JobMap) -> None:
        assert ctx.resources is not None
        wanted = {j.index.ecosystem for j in jobs.values()} | {j.elsewhere[0] for j in jobs.values() if j.elsewhere}
        await self._build_popular(ctx.resources, wanted)

    def _verdict(self, findings: list[Finding], meta: dict[str, int]) -> Verdict:
        # (what Verdict.passed / failed make, built directly: their keyword repacking is most of their cost)
        # (loops and map, not generator expressions: each made a function and a generator per answer)
        if not findings:
            return Verdict(Status.PASSED, 0.0, findings, meta)
        failing = []
        for f in findings:
            if f.code in self._fail_on:
                failing.append(f)
        if failing:
            return Verdict(Status.FAILED, max(map(_RISK, failing)), findings, meta)
        return Verdict(Status.PASSED, max(map(_RISK, findings)), findings, meta)

    # ------------------------------------------------------------ helpers

    async def _reviewer_allowed(self, ctx: Context, refs: list[Ref]) -> set[tuple[str, str]]:
        """Packages reviewers allowed for this policy from the review queue (one store read per answer).

        The review queue writes these keys; both build them with llmvet.store.keys.allowlist_key.
        """
        if not refs or not ctx.policy or ctx.resources is None:
            return set()
        wanted = {
            keys.allowlist_key(ctx.policy, r.ecosystem, r.name): (r.ecosystem, norm_name(r))
            for r in refs
            if r.ecosystem in ("pypi", "npm")
        }
        try:
            found = await ctx.resources.store.get_many(keys.ALLOWLIST, list(wanted))
        except Exception as exc:  # the store being down must not hide findings: judge without it
            log.warning("reviewer allowlist unavailable: %s", exc)
            return set()
        return {wanted[k] for k in found}

    def _target(self, ref: Ref) -> tuple[Index | None, str]:
        """Which registry to ask, and under which name."""
        if ref.ecosystem == "npm":
            return self.npm, ref.name
        name = ref.name
        if ref.kind == "import":
            name, known = distribution_for(ref.module or ref.name)
            if known:
                return None, name  # the mapping names a real distribution: nothing to look up
        if self.judge.is_private(ref):
            return (self.private, name) if self.private else (self.pypi, name)
        return self.pypi, name
