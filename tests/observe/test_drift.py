"""Drift detection on generated traffic: a mix that shifts at a known time is caught within the window;
an unchanged mix raises nothing across many seeds; replicas sharing a store see one picture; and,
end to end through the proxy, an alert reaches the metric, the alert stream and a webhook."""

from __future__ import annotations

import random
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llmvet.observe import drift, rollup
from llmvet.observe.drift import DriftConfig, DriftDetector, chi2_sf, compare, is_alert
from llmvet.store import open_store
from tests.support.fake_upstream import Reply
from tests.support.servers import ThreadedServer

# (decision, finding code or None, weight) — what a model's answers look like before and after an update
BEFORE = [
    ("allow", None, 0.80),
    ("annotate", "uncertainty.statement_missing", 0.10),
    ("block", "package.missing", 0.05),
    ("annotate", "uncertainty.refusal", 0.05),
]
AFTER = [
    ("allow", None, 0.68),
    ("annotate", "uncertainty.statement_missing", 0.10),
    ("block", "package.missing", 0.05),
    ("annotate", "uncertainty.refusal", 0.17),
]

CFG = DriftConfig(bucket_seconds=60, window_buckets=5, baseline_buckets=20, min_samples=200)
T0 = 1_700_000_000 // 60 * 60
PER_BUCKET = 60
SHIFT_BUCKET = 30
BUCKETS = 40


def record(rng: random.Random, mix, ts: float, model: str = "gpt-x", rule: str = "default") -> dict:
    action, code, _ = rng.choices(mix, weights=[w for *_, w in mix])[0]
    findings = (
        [{"code": code, "risk": 0.6, "evidence": {"category": "policy"} if "refusal" in code else {}}] if code else []
    )
    return {
        "ts": ts,
        "model": model,
        "rule": rule,
        "action": action,
        "status": 200,
        "findings": findings,
        "validators": [{"validator": "uncertainty", "status": "failed" if code else "passed", "ms": 1.0}],
        "reasks": 0,
        "extra_usage": {},
        "timings_ms": {"total": 10, "upstream": 9, "validate": 1},
        "response_chars": int(rng.lognormvariate(6, 0.5)),
    }


async def run_traffic(store, seed: int, shift_at: int | None, replicas: int = 1, sink=None):
    """Feed BUCKETS buckets of traffic, evaluating at the end of each; returns (alerts, detector)."""
    rng = random.Random(seed)
    rollups = [rollup.Rollup(store, bucket_seconds=CFG.bucket_seconds, replica=f"r{i}") for i in range(replicas)]
    detector = DriftDetector(store, rollups[0], CFG, [sink] if sink else [])
    alerts = []
    for b in range(BUCKETS):
        mix = AFTER if shift_at is not None and b >= shift_at else BEFORE
        for j in range(PER_BUCKET):
            ts = T0 + b * CFG.bucket_seconds + j * CFG.bucket_seconds / PER_BUCKET
            rollups[j % replicas].add(record(rng, mix, ts))
        end = T0 + (b + 1) * CFG.bucket_seconds - 0.001
        for r in rollups:
            await r.flush(now=end)
        for a in await detector.evaluate(now=end):
            alerts.append((b, a))
    return alerts, detector


# ---- the statistics --------------------------------------------------------------------------------------
def test_chi2_survival_function_matches_reference_values():
    # reference values from scipy.stats.chi2.sf
    for x, k, expected in [
        (3.0, 2, 0.22313016014842982),
        (10.0, 5, 0.07523524614651217),
        (40.0, 3, 1.065509033425585e-08),
        (0.5, 1, 0.47950012218695337),
        (7.8, 3, 0.050331097859853326),
        (100.0, 10, 5.4497019829205215e-17),
    ]:
        assert chi2_sf(x, k) == pytest.approx(expected, rel=1e-9)


def test_compare_matches_the_textbook_chi_square():
    c = compare({"allow": 400, "annotate": 80, "block": 20}, {"allow": 300, "annotate": 150, "block": 50}, 100)
    assert c.tested and c.dof == 2
    assert c.chi2 == pytest.approx(48.447204968944106)  # scipy.stats.chi2_contingency(correction=False)
    assert c.p_value == pytest.approx(3.0187219258874766e-11, rel=1e-6)
    assert c.psi > 0.15


def test_too_few_samples_are_never_tested():
    c = compare({"allow": 10}, {"block": 10}, min_samples=200)
    assert not c.tested and not is_alert(c, CFG)


def test_unchanged_mix_gives_no_alert_over_many_seeds():
    cats = [code or "none" for _, code, _ in BEFORE]
    weights = [w for *_, w in BEFORE]
    worst = 1.0
    for seed in range(500):
        rng = random.Random(seed)
        base = rng.choices(cats, weights, k=CFG.baseline_buckets * PER_BUCKET)
        cur = rng.choices(cats, weights, k=CFG.min_samples)
        c = compare({k: base.count(k) for k in cats}, {k: cur.count(k) for k in cats}, CFG.min_samples)
        assert not is_alert(c, CFG), (seed, c)
        worst = min(worst, c.p_value)
    assert worst < 0.01  # the test was exercised: some seeds were "unlucky", still no alert


def test_shifted_mix_alerts_at_minimum_sample_size():
    cats = [code or "none" for _, code, _ in BEFORE]
    misses = 0
    for seed in range(50):
        rng = random.Random(seed)
        base = rng.choices(cats, [w for *_, w in BEFORE], k=1200)
        cur = rng.choices(cats, [w for *_, w in AFTER], k=300)
        misses += not is_alert(compare({k: base.count(k) for k in cats}, {k: cur.count(k) for k in cats}, 200), CFG)
    assert misses <= 5  # power of the test at n=300 for a refusal rate going 5% -> 17%


def test_bad_settings_say_what_is_wrong(monkeypatch):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown drift dimension"):
        DriftConfig(dimensions=["decision", "mood"])
    monkeypatch.setenv("LLMVET_DRIFT_MIN_SAMPLES", "3")
    with pytest.raises(ValidationError, match="min_samples"):
        drift.DriftEnv()
    from llmvet.config import Settings
    from llmvet.proxy.app import create_app

    with pytest.raises(ValueError, match="invalid drift setting: LLMVET_DRIFT_MIN_SAMPLES: Input should be greater"):
        create_app(Settings(upstream="http://127.0.0.1:9/v1"))


# ---- the detector on the store (SQLite and Redis) ------------------------------------------------------------
async def test_shift_is_detected_within_the_window(store):
    seen = []
    alerts, _detector = await run_traffic(store, seed=7, shift_at=SHIFT_BUCKET, sink=seen.append)
    assert alerts, "no alert after the shift"
    first_bucket = alerts[0][0]
    assert SHIFT_BUCKET <= first_bucket < SHIFT_BUCKET + CFG.window_buckets  # within one window, never before
    dims = {a["dimension"] for _, a in alerts}
    assert "finding" in dims
    a = next(a for _, a in alerts if a["dimension"] == "finding")
    assert a["model"] == "gpt-x" and a["rule"] == "default" and a["psi"] >= CFG.psi_threshold
    assert next(iter(a["moved"])) in ("uncertainty.refusal", "none")
    # one alert per dimension however many evaluations see the shift; the sink and the stream got them
    assert len(dims) == len(alerts) and seen == [a for _, a in alerts]
    stored = await drift.read_alerts(store)
    assert [s["dimension"] for s in stored] == [a["dimension"] for _, a in alerts]
    audit = [r for _, r in await store.read("audit") if r.get("kind") == "drift_alert"]
    assert [r["dimension"] for r in audit] == [a["dimension"] for _, a in alerts]
    status = await store.get(rollup.NAMESPACE, drift.STATUS_KEY)
    assert status["groups"]["gpt-x\tdefault"]["finding"]["tested"] is True


async def test_two_replicas_sharing_a_store_see_one_picture(store):
    # Each replica alone sees half the traffic (too few samples in the current window to test);
    # the detector reads both replicas' buckets and still catches the shift in time.
    alerts, detector = await run_traffic(store, seed=3, shift_at=SHIFT_BUCKET, replicas=2)
    assert alerts and SHIFT_BUCKET <= alerts[0][0] < SHIFT_BUCKET + CFG.window_buckets
    now = T0 + BUCKETS * CFG.bucket_seconds - 1
    buckets = await rollup.read_buckets(store, T0, now, CFG.bucket_seconds)
    assert rollup.total(buckets)["gpt-x\tdefault"]["n"] == BUCKETS * PER_BUCKET
    assert detector.status["gpt-x\tdefault"]["finding"]["n_current"] == CFG.window_buckets * PER_BUCKET


async def test_unchanged_mix_never_alerts_through_the_detector():
    for seed in range(12):
        store = await open_store("sqlite:///:memory:")
        try:
            alerts, detector = await run_traffic(store, seed=seed, shift_at=None)
            assert alerts == [], (seed, alerts)
            assert detector.status["gpt-x\tdefault"]["decision"]["tested"]
        finally:
            await store.close()


# ---- end to end: the proxy raises an alert to the metric, the stream and a webhook --------------------------------
def test_alert_end_to_end_through_the_proxy(fake, make_proxy, monkeypatch):
    received: list[dict] = []

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        return Response(status_code=204)

    env = {
        "BUCKET_SECONDS": "1",
        "WINDOW_BUCKETS": "2",
        "BASELINE_BUCKETS": "3",
        "MIN_SAMPLES": "20",
        "CHECK_INTERVAL": "0.5",
        "DIMENSIONS": '["decision"]',
    }
    with ThreadedServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as receiver:
        for k, v in env.items():
            monkeypatch.setenv("LLMVET_DRIFT_" + k, v)
        monkeypatch.setenv("LLMVET_DRIFT_WEBHOOK", receiver.url + "/hook")
        state = {"secret": False}
        fake.reset(lambda body: Reply(text="AKIA" + "C" * 16 if state["secret"] else "all good"))
        proxy = make_proxy()  # the bundled default policy: secrets are annotated
        body = {"model": "drifty", "messages": [{"role": "user", "content": "hi"}]}
        shift_at = None
        with httpx.Client(base_url=proxy.url) as http:
            started = time.monotonic()
            while time.monotonic() - started < 12:
                elapsed = time.monotonic() - started
                if elapsed > 4 and shift_at is None:
                    state["secret"], shift_at = True, time.monotonic()
                http.post("/v1/chat/completions", json=body).raise_for_status()
                if received:
                    break
                time.sleep(0.01)
            detected = time.monotonic()
            metrics = http.get("/metrics").text
        assert received, "no webhook call"
        assert shift_at is not None and detected - shift_at < 2 * 1 + 1.5  # window (2 s) + evaluation delay
        alert = received[0]
        assert alert["type"] == "drift_alert" and alert["model"] == "drifty" and alert["dimension"] == "decision"
        assert alert["moved"]["annotate"]["current"] > alert["moved"]["annotate"]["baseline"]
        assert 'llmvet_drift_alerts_total{dimension="decision",model="drifty",rule="default"} 1.0' in metrics
        assert "llmvet_drift_psi{" in metrics
