"""Reading the Graph client's OpenTelemetry instruments in tests, through the SDK's in-memory reader."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from monitor.graph.instruments import GraphInstruments


class RecordedMetrics:
    """A meter provider whose measurements tests can sum by instrument name and attributes."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])
        self.instruments = GraphInstruments(self.provider)
        self._points: list[tuple[str, Mapping[str, Any], float]] = []

    def collect(self) -> None:
        data = self.reader.get_metrics_data()
        self._points = []
        if data is None:
            return
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = getattr(point, "sum", 0.0)
                        self._points.append((metric.name, dict(point.attributes or {}), float(value)))

    def total(self, name: str, **attributes: Any) -> float:
        """The sum of ``name``'s points whose attributes include ``attributes`` (collects first)."""
        self.collect()
        return sum(
            value
            for metric, point_attributes, value in self._points
            if metric == name and all(point_attributes.get(k) == v for k, v in attributes.items())
        )

    def by(self, name: str, attribute: str) -> dict[str, float]:
        """``name``'s sums grouped by the value of ``attribute`` (collects first)."""
        self.collect()
        grouped: dict[str, float] = {}
        for metric, point_attributes, value in self._points:
            if metric == name:
                key = str(point_attributes.get(attribute))
                grouped[key] = grouped.get(key, 0.0) + value
        return grouped
