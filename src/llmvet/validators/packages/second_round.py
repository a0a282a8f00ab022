"""The second round of lookups, for names a registry lacks: python-X for unknown imports (`import ldap`
is python-ldap's), and the same name on the other registry (`pip install axios`: the suggested fix
names the npm package). What it finds goes on the jobs (`resolved_as`, `elsewhere`) the Judge reads."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from llmvet.validators.packages import other_ecosystem
from llmvet.validators.packages.judge import Job, Judge
from llmvet.validators.packages.registry import Index, Lookup, RegistryClient, canonical

if TYPE_CHECKING:
    from llmvet.resources import Resources

_Lookups = dict[tuple[str, str], Lookup]


@lru_cache(maxsize=4096)  # pure: asked for every unknown import of every answer
def alias_candidates(name: str) -> tuple[str, ...]:
    n = canonical(name)
    return (f"python-{n}", f"py{n}", f"{n}-python", f"{n}py")


class SecondRound:
    """One per validator: its registry client, judge, private index and, per ecosystem, the other
    registry checked (None when the policy checks only one)."""

    def __init__(
        self, client: RegistryClient, judge: Judge, private: Index | None, other_index: dict[str, Index | None]
    ) -> None:
        self.client = client
        self.judge = judge
        self.private = private
        self.other_index = other_index

    async def run(self, resources: Resources | None, missing: list[Job]) -> None:
        """For `missing`, the jobs (in order) whose name the registry lacks: one lookup of whatever of both
        is not in memory; on the warm path none, so no task and no loop turn. Without `resources`, only
        the other registry's names in memory are read."""
        waiting, elsewhere = self.plan(missing, resources is not None)
        wanted = [(job.index, c) for job in waiting for c in alias_candidates(job.name)]
        wanted += [(index, name) for _, index, name in elsewhere]
        found: _Lookups = {}
        pending = []
        for index, name in wanted:
            hit = self.client.peek(index, name)
            if hit is None:
                pending.append((index, name))
            else:
                found[(index.id, name)] = hit
        if pending and resources is not None:
            found.update(await self.client.lookup_many(resources, pending))
        for job in waiting:
            for c in alias_candidates(job.name):
                lk = found.get((job.index.id, c))
                if lk is not None and lk.status == "found":
                    job.resolved_as = c
                    break
        for job, index, name in elsewhere:
            lk = found.get((index.id, name))
            if lk is not None and lk.status == "found":
                job.elsewhere = (index.ecosystem, name)

    def plan(self, missing: list[Job], elsewhere_too: bool) -> tuple[list[Job], list[tuple[Job, Index, str]]]:
        """One pass over the jobs of missing names: Python imports the registry lacks under their own name
        (python-X may be theirs); (job, other registry, name there) of names installed or listed (code does
        not import the other language's packages; private names never go to a public registry, nor another
        index's)."""
        waiting: list[Job] = []
        elsewhere: list[tuple[Job, Index, str]] = []
        private = self.judge.is_private if self.judge.config.private_prefixes else None  # (none: no call per ref)
        for job in missing:
            imported = installed = False
            other_index = False  # a ref private, or installed from an index we were not asked to check
            for r in job.refs:
                if r.kind == "import":
                    imported = True
                else:
                    installed = True
                if (r.index_url and not r.extra_index) or (private is not None and private(r)):
                    other_index = True
            eco = job.index.ecosystem
            if imported and eco == "pypi":
                waiting.append(job)
            other = self.other_index.get(eco) if elsewhere_too and installed and not other_index else None
            if (
                other is not None
                and job.index is not self.private
                and (name := other_ecosystem.name_there(job.name, other.ecosystem)) is not None
            ):
                elsewhere.append((job, other, name))
        return waiting, elsewhere
