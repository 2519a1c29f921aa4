"""Per-endpoint request statistics for benchmarks and tests (``GET /_emulator/stats``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._requests: Counter[str] = Counter()
        self._statuses: defaultdict[str, Counter[int]] = defaultdict(Counter)
        self._throttled: Counter[str] = Counter()
        self._faults: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._items: Counter[str] = Counter()

    def record(self, endpoint: str, status: int, items: int = 0) -> None:
        self._requests[endpoint] += 1
        self._statuses[endpoint][status] += 1
        self._items[endpoint] += items
        if status == 429:
            self._throttled[endpoint] += 1

    def fault(self, endpoint: str, kind: str) -> None:
        self._faults[endpoint][kind] += 1

    def snapshot(self) -> dict[str, Any]:
        endpoints = sorted(set(self._requests) | set(self._faults))
        return {
            "total": sum(self._requests.values()),
            "throttled": sum(self._throttled.values()),
            "endpoints": {
                name: {
                    "requests": self._requests[name],
                    "throttled": self._throttled[name],
                    "items": self._items[name],
                    "statuses": {str(code): count for code, count in sorted(self._statuses[name].items())},
                    "faults": dict(self._faults[name]),
                }
                for name in endpoints
            },
        }
