"""Every store namespace and key format llmvet uses, in one place.

Readers and writers in different packages (the review queue and the packages validator, the
consistency budget and the report) must agree on these strings; a key built in two places drifts.
The same names hold for every backend (SQLite and Redis).
"""

from __future__ import annotations

import datetime as dt
import re
import time

# ---- append-only streams ------------------------------------------------------------------------------
AUDIT = "audit"  # one record per vetted response, review decision, allowlist change, drift alert
ALERTS = "alerts"
AUDIT_TEXT = "audit_text"  # request id -> the answer's parts (secrets redacted), with a TTL: replay only  # drift alerts, read by the report and the dashboard

JOURNAL = "journal"  # audit journal token -> the highest seq of its records in the store (see llmvet.journal)

# ---- readiness -------------------------------------------------------------------------------------------
HEALTH = "health"  # the probe write of Store.writable()
WRITABLE_PROBE = "writable-probe"

# ---- the review queue ------------------------------------------------------------------------------------
REVIEW_ITEMS = "review_item"  # review id -> the item (request, answer, findings, status)
REVIEW_FINALS = "review_final"  # review id -> the outcome (written with store.add: exactly one wins)
REVIEW_LEASES = "review_lease"  # review id -> {"reviewer", "at", "until"} with a TTL
REVIEW_GONE = "review_gone"  # review id -> time the held client disconnected
REVIEW_META = "review_meta"  # the queue's own bookkeeping (which layout it has been indexed to)
REVIEW_LAYOUT_KEY = "layout"  # -> REVIEW_LAYOUT once every item of the older, unindexed layout is indexed
REVIEW_LAYOUT = 2
# sorted indexes (Store.index_*): pending ids by creation time, decided ids by decision time
REVIEW_PENDING = "review:pending"
REVIEW_DECIDED = "review:decided"
# pub/sub channel: a decided review id, so the replica holding its request answers at once
REVIEW_DECISIONS = "review:decisions"


def review_outcome_index(outcome: str) -> str:
    """Decided ids of one outcome (approved, edited, rejected, timeout), by decision time: counts per status."""
    return f"review:{outcome}"


# ---- reviewer accounts -----------------------------------------------------------------------------------
REVIEWERS = "reviewer"  # name -> account record
REVIEWER_TOKENS = "reviewer_token"  # sha256 of a token -> reviewer name
REVIEW_SESSIONS = "review_session"  # session key -> session record

# ---- packages a reviewer allowed, per policy ----------------------------------------------------------------
ALLOWLIST = "allowlist"
_PYPI_NORM = re.compile(r"[-_.]+")


def normalise_package(ecosystem: str, package: str) -> str:
    """The registry's canonical spelling: PEP 503 for PyPI, lower case for npm."""
    package = package.strip()
    if ecosystem == "pypi":
        return _PYPI_NORM.sub("-", package).lower()
    return package.lower()


def allowlist_key(policy: str, ecosystem: str, package: str) -> str:
    """`<policy>/<ecosystem>/<normalised package>`; `allowlist_prefix(policy)` lists one policy's entries."""
    return f"{allowlist_prefix(policy)}{ecosystem}/{normalise_package(ecosystem, package)}"


def allowlist_prefix(policy: str | None) -> str:
    return f"{policy}/" if policy else ""


# ---- re-ask token budgets (consistency) ----------------------------------------------------------------------
BUDGET = "budget"
BUDGET_TTL_SECONDS = 2 * 86400  # a day's counter outlives its day, then expires


def budget_day(ts: float | None = None) -> str:
    """The UTC day (YYYY-MM-DD) a budget counter belongs to."""
    return dt.datetime.fromtimestamp(time.time() if ts is None else ts, dt.UTC).strftime("%Y-%m-%d")


def budget_key(key_hash: str | None, day: str) -> str:
    """Tokens one API key (its short hash; "anon" without one) spent on re-asks on one UTC day."""
    return f"{key_hash or 'anon'}:{day}"


def budget_key_parts(key: str) -> tuple[str, str]:
    """(key hash, day) of a budget key."""
    key_hash, _, day = key.rpartition(":")
    return key_hash, day


# ---- observability ---------------------------------------------------------------------------------------
OBSERVE = "observe"  # outcome buckets per replica, the replica registry, drift status
DRIFT = "drift"  # alert de-duplication markers


def review_counted_key(review_id: str) -> str:
    """Marker: one replica has counted this review decision into the latency metric."""
    return f"reviewed:{review_id}"


# ---- the policy each replica serves ------------------------------------------------------------------------
SERVING = "serving"  # replica id -> {"replica", "policy": "name@version", "since", "at"}, with a TTL (heartbeat)


# ---- package registry cache --------------------------------------------------------------------------------
PACKAGE_CACHE = "pkgcache"  # default; a policy may name another (`cache_namespace`)
