"""The second round's plan reads each job's refs in one loop: it must pick the jobs and names the plain
definition (sets of kinds, any() over private and other-index refs) picks, for every mix of refs."""

from __future__ import annotations

import random

from llmvet.validators.packages import other_ecosystem
from llmvet.validators.packages.judge import Job
from llmvet.validators.packages.refs import Ref
from llmvet.validators.packages.registry import Lookup
from tests.support.fake_registry import packages_validator


def plain_plan(v, jobs, lookups, elsewhere_too):
    waiting, elsewhere = [], []
    other_index = v.second_round.other_index
    for (iid, _), job in jobs.items():
        lk = lookups.get((iid, job.name))
        if lk is None or lk.status != "missing":
            continue
        kinds = {r.kind for r in job.refs}
        if job.index.ecosystem == "pypi" and "import" in kinds:
            waiting.append(job)
        other = other_index.get(job.index.ecosystem) if elsewhere_too else None
        if (
            other is not None
            and job.index is not v.private
            and bool(kinds - {"import"})
            and not any(v.judge.is_private(r) or (r.index_url and not r.extra_index) for r in job.refs)
            and (name := other_ecosystem.name_there(job.name, other.ecosystem)) is not None
        ):
            elsewhere.append((job, other, name))
    return waiting, elsewhere


def test_the_plan_is_the_plain_definition(fake_registry):
    rng = random.Random(21)
    names = ["acme-tool", "requests", "Left_Pad", "@acme/x", "@s/p", "x.y", "flask", "acme"]
    checked = 0
    for settings in (
        {},
        {"private_prefixes": ["acme-", "@acme/"]},
        {"private_prefixes": ["acme"], "ecosystems": ["pypi"]},
        {"private_prefixes": ["acme-"], "private_index_url": f"{fake_registry.url}/simple"},
    ):
        v = packages_validator(fake_registry, **settings)
        indexes = [v.pypi, v.npm] + ([v.private] if v.private else [])
        for _ in range(3000):
            jobs, lookups = {}, {}
            for _ in range(rng.randint(1, 4)):
                index, name = rng.choice(indexes), rng.choice(names)
                job = jobs.setdefault((index.id, name), Job(index, name))
                for _ in range(rng.randint(1, 3)):
                    ref_name = rng.choice([name, rng.choice(names)])
                    kind = rng.choice(["install", "import", "manifest"])
                    ref = Ref(index.ecosystem, ref_name, (0, len(ref_name)), kind)
                    ref.index_url, ref.extra_index = rng.choice(["", "", "https://idx"]), rng.random() < 0.5
                    job.refs.append(ref)
                status = rng.choice(["missing", "missing", "found", "unreachable"])
                if rng.random() < 0.9:
                    lookups[(index.id, name)] = Lookup(status)
            missing = []  # (what the validator passes: the jobs whose name the registry lacks, in order)
            for (iid, _), job in jobs.items():
                lk = lookups.get((iid, job.name))
                if lk is not None and lk.status == "missing":
                    missing.append(job)
            for elsewhere_too in (True, False):
                got = v.second_round.plan(missing, elsewhere_too)
                assert got == plain_plan(v, jobs, lookups, elsewhere_too)
                checked += bool(got[0] or got[1])
    assert checked > 3000
