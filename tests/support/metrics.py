"""Prometheus exposition text parsed into samples, for assertions on /metrics."""

from __future__ import annotations


def parse_metrics(text: str) -> dict[tuple[str, tuple], float]:
    """Prometheus exposition text -> {(sample name, sorted labels): value}, by prometheus_client's parser."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def metric_value(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())
