"""The same name on the other ecosystem: `pip install axios` names an npm package, `npm install
scikit-learn` a PyPI one. A name missing where it is installed from, but present on the other
registry, is most likely that package installed with the wrong tool; the finding says so, and so
does the proxy's re-ask feedback (it quotes finding messages).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from llmvet.validators.packages.judge import Job
from llmvet.validators.packages.refs import NPM_NAME, PY_NAME
from llmvet.validators.packages.registry import Index, Lookup, canonical


@lru_cache(maxsize=8192)  # pure, and asked for every missing name of every answer
def name_there(name: str, ecosystem: str) -> str | None:
    """`name` as the other registry spells it, or None when it is not a valid name there."""
    if ecosystem == "npm":
        low = name.lower()
        return low if NPM_NAME.match(low) and not low.startswith(("@", ".", "_")) else None
    if name.startswith("@") or "/" in name or not PY_NAME.match(name):
        return None  # a scoped npm package has no PyPI twin
    return canonical(name)


def candidates(
    jobs: Iterable[Job], lookups: dict[tuple[str, str], Lookup], indexes: dict[str, Index]
) -> list[tuple[Job, Index, str]]:
    """(job, other registry, name there) for every missing name something installs or lists (imports
    are left out: code in one language does not import the other's packages). `jobs` are the ones
    whose names may be sent to a public registry (no private names)."""
    out = []
    for job in jobs:
        lk = lookups.get((job.index.id, job.name))
        if lk is None or lk.status != "missing" or not any(r.kind != "import" for r in job.refs):
            continue
        other = indexes.get("npm" if job.index.ecosystem == "pypi" else "pypi")
        name = name_there(job.name, other.ecosystem) if other is not None else None
        if other is not None and name is not None:
            out.append((job, other, name))
    return out
