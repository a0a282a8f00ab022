"""Risk signals about one package, from registry metadata and from its name.

Pure functions over the normalised registry record (see registry.parse_*), so they are easy to test
and cost nothing on the warm path (results are memoised per name by the validator).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import cache

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from llmvet.validators.packages.import_map import popular

# ---------------------------------------------------------------- placeholders and research squats

# Strong wording: the package says itself that it is not a real library.
_PLACEHOLDER = re.compile(
    r"""placeholder|place[- ]holder|security[ -]holding|holding\ package|
    security[ -]research|research(?:ing)?[ -](?:package|purposes?|only|poc|project\ for)|for\ (?:security\ )?research\ purposes|
    dependency[- ]confusion|typo-?squat|slop-?squat|squatting|name[- ]?squat|
    (?:dependency|package)[- ]hallucination|hallucinated\ (?:package|name|dependenc)|
    prevent(?:s|ing)?\ (?:typo|dependency|squat|confusion|malicious|name|package|abuse|hijack|takeover)|
    (?:name|package)\ (?:is\ )?(?:reserved|parked|held|squatted|claimed)|reserved\ (?:by|for|to\ prevent)|\bparked\b|
    \b(?:dummy|empty|fake|blank|decoy|canary|bogus)\ (?:package|project|module|library|pkg)\b|
    proof[- ]of[- ]concept|\bpoc\b|bug[- ]?bounty|do\ not\ (?:use|install)\ this|not\ installable|
    no\ functional\ code|contains\ no\ (?:code|functional)|there\ is\ no\ code|nothing\ to\ see\ here|
    package\ takeover|this\ (?:package|is)\ (?:is\ )?malicious|name[- ]reservation|\bsquatted\b|
    not\ a\ real\ (?:library|package|project|module)""",
    re.I | re.X,
)
# Only in the one-line summary: in long descriptions these words are often about something else.
_SUMMARY_ONLY = re.compile(
    r"""^\s*deprecated\b|deprecated\ (?:package|alias|name)|\bis\ deprecated|
    (?:has\ been|was|is)\ (?:renamed|moved)\ to|use\ [\w.\-\[\]]+\ instead|
    \b(?:sample|example|demo)\ (?:package|project|module|pkg)\b|coming\ soon|
    \breserved\b|do\ not\ (?:use|install)|\bdummy\b""",
    re.I | re.X,
)
_ODD_VERSION = re.compile(
    r"^(?:0(?:\.0)*(?:\.0|\.1)?(?:[a-z]+\d*|\.dev\d*|\.post\d*)?|0\.dev\d*|(?:[5-9]\d|[1-9]\d{2,})(?:\.\d+)*)$"
)


def placeholder_reasons(info: dict, now: float, min_age_days: float, alias_of: str | None = None) -> list[str]:
    """Why this package looks like a placeholder, a research squat or a removed malicious package.

    Wording alone is not enough: real tools talk about typosquatting, real packages get deprecated.
    Wording counts for a project with few releases (or one whose name is another project's import
    name); squats and placeholders rarely publish more than a handful of versions.
    """
    reasons = []
    summary = info.get("summary") or ""
    versions = info.get("versions") or []
    n = info.get("n_releases") or len(versions)
    odd = bool(versions) and all(_ODD_VERSION.match(v) for v in versions)
    few = n <= 5 or odd or alias_of is not None
    very_few = n <= 3 or odd or alias_of is not None
    m = _PLACEHOLDER.search(summary)
    if m and few:
        reasons.append(f"describes itself as {m.group(0).strip()!r}")
    elif (m2 := _SUMMARY_ONLY.search(summary)) and very_few:
        reasons.append(f"describes itself as {m2.group(0).strip()!r}")
    elif (m3 := _PLACEHOLDER.search((info.get("description") or "")[:1500])) and few:
        reasons.append(f"its description says {m3.group(0).strip()!r}")
    if info.get("deprecated") and very_few:
        reasons.append(f"deprecated: {str(info['deprecated'])[:80]!r}")
    if any(v.endswith("-security") for v in versions):
        reasons.append("npm security holding package (a removed malicious package)")
    if info.get("installable") is False:
        reasons.append("no installable files")
    if reasons:
        return reasons
    # No wording: count weak structural signs; several together are what squats look like.
    weak = weak_signals(info, now, min_age_days)
    if len(weak) >= 3 and "single release" in weak:
        reasons.append("looks empty: " + ", ".join(weak))
    return reasons


def weak_signals(info: dict, now: float, min_age_days: float) -> list[str]:
    out = []
    n = info.get("n_releases") or 0
    if n <= 1:
        out.append("single release")
    if (
        info.get("description_len") is not None
        and (info.get("description_len") or 0) < 80
        and len(info.get("summary") or "") < 30
    ):
        out.append("no description")
    if info.get("has_urls") is False:
        out.append("no project URLs")
    versions = info.get("versions") or []
    if versions and all(_ODD_VERSION.match(v) for v in versions):
        out.append(f"odd version {versions[-1]}")
    first = info.get("first_upload")
    if first and now - first < min_age_days * 86400:
        out.append("recent")
    return out


def age_days(info: dict, now: float | None = None) -> float | None:
    first = info.get("first_upload")
    if not first:
        return None
    return ((now or time.time()) - first) / 86400


def version_exists(info: dict, version: str) -> bool:
    """PEP 440 equality for PyPI (`2.31` == `2.31.0`); exact string match for npm versions."""
    versions = info.get("versions") or []
    if version in versions:
        return True
    try:
        want = Version(version)
    except InvalidVersion:
        return False
    for v in versions:
        try:
            if Version(v) == want:
                return True
        except InvalidVersion:
            continue
    return False


# ---------------------------------------------------------------- lookalikes of popular names


def osa_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal string alignment distance (edits + adjacent transpositions), capped at limit + 1."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        lo = limit + 1
        for j in range(1, lb + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            lo = min(lo, v)
        if lo > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[lb], limit + 1)


_SEP = re.compile(r"[-_.]+")
PREFIXES = ("python-", "py-", "py", "python3-", "node-", "js-", "lib", "the-", "pypi-", "real-", "official-", "get-")
SUFFIXES = (
    "-pro",
    "-plus",
    "-utils",
    "-util",
    "-tools",
    "-tool",
    "-toolkit",
    "-lib",
    "-py",
    "-python",
    "-python3",
    "-sdk",
    "-api",
    "-client",
    "-dev",
    "-core",
    "-helper",
    "-helpers",
    "-ext",
    "-extra",
    "-extras",
    "-extended",
    "-official",
    "-v2",
    "-v3",
    "2",
    "3",
    "-ng",
    "-next",
    "-async",
    "-fast",
    "-lite",
    "-secure",
    "-fixed",
    "-new",
    "-latest",
    "-js",
    "js",
    "-node",
    "-cli",
    "-kit",
    "-x",
    "x",
    "-master",
    "-community",
    "-free",
    "-full",
    "-ai",
)


def _bigrams(k: str) -> frozenset[str]:
    return frozenset(k[i : i + 2] for i in range(len(k) - 1))


def _key(name: str) -> str:
    return _SEP.sub("", name.lower())


def _edits(k: str, alphabet: str) -> set[str]:
    """Every string one edit from `k`: deletions, adjacent swaps, substitutions and insertions."""
    splits = [(k[:i], k[i:]) for i in range(len(k) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    out.update(a + c + b[1:] for a, b in splits if b for c in alphabet)
    out.update(a + c + b for a, b in splits for c in alphabet)
    out.discard(k)
    return out


@dataclass(slots=True)
class Lookalike:
    popular: str
    kind: str  # "edit" | "separators" | "affix"
    distance: int = 0
    affix: str = ""
    rank: int = 0


class PopularNames:
    """A popular-names list, searched for near misses of a name.

    Building it is one dict (a few ms): a `llmvet scan` process pays it at start. One-edit neighbours
    are found by generating the query's edits (about 80 per character) and looking each up, instead
    of indexing every deletion of every popular name (135 ms to build for 10,000 names)."""

    def __init__(self, ecosystem: str, names: tuple[str, ...]) -> None:
        self.ecosystem = ecosystem
        self.names = names
        self.rank = {n: i + 1 for i, n in enumerate(names)}
        self.by_key: dict[str, str] = {}  # key -> the most popular name with it (names come by rank)
        for n in names:
            self.by_key.setdefault(_key(n), n)
        self.alphabet = "".join(sorted(set("".join(self.by_key))))
        self._by_len: dict[int, list[tuple[str, str, frozenset[str]]]] | None = None

    @property
    def by_len(self) -> dict[int, list[tuple[str, str, frozenset[str]]]]:
        """For the two-edit search: the 5000 most popular keys of 7+ characters by length, with their
        bigram sets; built on the first long name that has no one-edit neighbour."""
        if self._by_len is None:
            by_len: dict[int, list[tuple[str, str, frozenset[str]]]] = {}
            for n in self.names[:5000]:
                k = _key(n)
                if len(k) >= 7:
                    by_len.setdefault(len(k), []).append((n, k, _bigrams(k)))
            self._by_len = by_len
        return self._by_len

    def _one_edit(self, k: str) -> Lookalike | None:
        """The most popular name whose key is one edit (insert, delete, substitute, swap) from `k`."""
        best: Lookalike | None = None
        for e in _edits(k, self.alphabet):
            c = self.by_key.get(e)
            if c is not None and (best is None or self.rank[c] < best.rank):
                best = Lookalike(c, "edit", 1, rank=self.rank[c])
        return best

    def norm(self, name: str) -> str:
        return canonicalize_name(name) if self.ecosystem == "pypi" else name.lower()

    def __contains__(self, name: str) -> bool:
        return self.norm(name) in self.rank

    def lookalike(self, name: str, max_distance: int = 2) -> Lookalike | None:
        n = self.norm(name)
        if n in self.rank:
            return None
        k = _key(n)
        if len(k) < 4:
            return None  # short names are all one edit from something
        same = self.by_key.get(k)
        if same is not None and same != n:
            return Lookalike(same, "separators", 0, rank=self.rank[same])
        best = self._one_edit(k)
        if best is None and max_distance >= 2 and len(k) >= 8:
            bg = _bigrams(k)
            for length in range(len(k) - 2, len(k) + 3):
                for c, ck, cbg in self.by_len.get(length, ()):
                    # q-gram filter: two edits destroy at most four bigrams
                    if (
                        len(bg & cbg) >= max(len(bg), len(cbg)) - 4
                        and (best is None or self.rank[c] < best.rank)
                        and osa_distance(k, ck, 2) <= 2
                    ):
                        best = Lookalike(c, "edit", 2, rank=self.rank[c])
        if best is not None:
            return best
        return self._affix(n)

    def variant_of_more_popular(self, name: str) -> Lookalike | None:
        """For a name on the list: the more popular name it is a prefixed / suffixed / re-separated
        variant of (`pytorch` -> `torch`). Mistaken installs put placeholders on popularity lists,
        so being listed does not clear such a name."""
        n = self.norm(name)
        own = self.rank.get(n)
        if own is None:
            return None
        same = self.by_key.get(_key(n))
        if same is not None and same != n and self.rank[same] < own:
            return Lookalike(same, "separators", 0, rank=self.rank[same])
        look = self._affix(n)
        return look if look is not None and look.rank < own else None

    def _affix(self, n: str) -> Lookalike | None:
        bare = n.split("/", 1)[1] if n.startswith("@") and "/" in n else n
        for p in PREFIXES:
            if bare.startswith(p) and len(bare) - len(p) >= 3:
                base = self._known(bare[len(p) :])
                if base:
                    return Lookalike(base, "affix", affix=p, rank=self.rank[base])
        for s in SUFFIXES:
            if bare.endswith(s) and len(bare) - len(s) >= 3:
                base = self._known(bare[: -len(s)].rstrip("-_."))
                if base:
                    return Lookalike(base, "affix", affix=s, rank=self.rank[base])
        return None

    def _known(self, stem: str) -> str | None:
        s = self.norm(stem)
        if s in self.rank and self.rank[s] <= 3000:
            return s
        return None


@cache
def popular_names(ecosystem: str, path: str | None = None) -> PopularNames:
    return PopularNames(ecosystem, popular(ecosystem, path))
