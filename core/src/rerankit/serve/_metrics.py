"""Prometheus metrics in the text exposition format (version 0.0.4), standard library only.

A handful of counters, gauges and histograms with labels is all the server needs, so it writes
the format itself rather than depend on ``prometheus_client`` (one registry per app, so two apps
in one process, as in tests, never share numbers). Each served reranker's usage record comes as
its ``Usage.counters()``, one flat mapping of numbers.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

Labels = tuple[tuple[str, str], ...]

#: Seconds: from a millisecond to a minute.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Requests or documents per forward batch.
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def _labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _render_labels(labels: Iterable[tuple[str, str]]) -> str:
    items = [f'{k}="{_escape(v)}"' for k, v in labels]
    return "{" + ",".join(items) + "}" if items else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help: str) -> None:
        self.name = name
        self.help = help
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help: str) -> None:
        super().__init__(name, help)
        self.values: dict[Labels, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            self.values[key] = self.values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self.values.get(_labels(labels), 0.0)

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self.values.items())
        return [*self.header(), *(f"{self.name}{_render_labels(k)} {_number(v)}" for k, v in items)]


class Gauge(Counter):
    """A value that goes up and down per label set."""

    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self.values[_labels(labels)] = float(value)


class Histogram(_Metric):
    """Observations counted into cumulative buckets, with their sum and count, per label set."""

    kind = "histogram"

    def __init__(self, name: str, help: str, buckets: Sequence[float]) -> None:
        super().__init__(name, help)
        self.buckets = tuple(buckets)
        self.series: dict[Labels, list[float]] = {}  # bucket counts..., +Inf count, sum

    def observe(self, value: float, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            row = self.series.setdefault(key, [0.0] * (len(self.buckets) + 2))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    row[i] += 1
            row[-2] += 1
            row[-1] += value

    def count(self, **labels: str) -> float:
        row = self.series.get(_labels(labels))
        return row[-2] if row else 0.0

    def sum(self, **labels: str) -> float:
        row = self.series.get(_labels(labels))
        return row[-1] if row else 0.0

    def render(self) -> list[str]:
        lines = self.header()
        with self._lock:
            items = sorted((k, list(v)) for k, v in self.series.items())
        for key, row in items:
            for bound, n in zip((*self.buckets, math.inf), row[:-1]):
                lines.append(f"{self.name}_bucket{_render_labels((*key, ('le', _number(bound))))} {_number(n)}")
            lines.append(f"{self.name}_sum{_render_labels(key)} {_number(row[-1])}")
            lines.append(f"{self.name}_count{_render_labels(key)} {_number(row[-2])}")
        return lines


class Metrics:
    """Everything ``GET /metrics`` reports for one app."""

    def __init__(self, usage: Callable[[], Mapping[str, Mapping[str, float]]] | None = None) -> None:
        self.requests = Counter("rerankit_requests_total", "Rerank requests answered, by API, model and status.")
        self.errors = Counter("rerankit_errors_total", "Rerank requests refused or failed, by API and error type.")
        self.latency = Histogram(
            "rerankit_request_duration_seconds", "Time from request to answer, by API and model.", LATENCY_BUCKETS
        )
        self.batch_requests = Histogram(
            "rerankit_batch_requests", "Requests merged into one forward batch, by model.", SIZE_BUCKETS
        )
        self.batch_documents = Histogram(
            "rerankit_batch_documents", "Documents scored in one forward batch, by model.", SIZE_BUCKETS
        )
        self.queue_depth = Gauge("rerankit_queue_depth", "Requests waiting for a batch, by model.")
        self.in_flight = Gauge("rerankit_requests_in_flight", "Rerank requests being answered.")
        self.documents = Counter("rerankit_documents_total", "Documents scored, by model.")
        self._usage = usage

    def render(self) -> str:
        lines: list[str] = []
        for metric in (
            self.requests, self.errors, self.latency, self.batch_requests, self.batch_documents,
            self.queue_depth, self.in_flight, self.documents,
        ):
            lines.extend(metric.render())
        if self._usage is not None:
            usage = Gauge(
                "rerankit_reranker_usage",
                "Each reranker's usage record so far (requests, billed units, cache, rate limit, "
                "fallbacks), by field.",
            )
            for model, counters in self._usage().items():
                for key, number in counters.items():
                    usage.set(number, model=model, field=key)
            lines.extend(usage.render())
        return "\n".join(lines) + "\n"


__all__ = ["Counter", "Gauge", "Histogram", "Metrics"]
