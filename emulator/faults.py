"""Faults the emulator injects, deterministically from the seed: latency, 5xx answers, connections
dropped mid-response and pages of malformed JSON. Off by default so tests stay fast."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from emulator.ids import mix64


@dataclass(frozen=True)
class FaultProfile:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503, 504)
    retry_after_seconds: float | None = 1.0
    """Sent with injected 503 answers (the real service sometimes does); None to omit."""
    drop_rate: float = 0.0
    malformed_rate: float = 0.0
    endpoints: str | None = None
    """A regular expression on endpoint names (``signIns``, ``applications`` …) the faults apply
    to; None for every Graph endpoint. Latency applies everywhere."""
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate", "malformed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.error_rate + self.drop_rate + self.malformed_rate > 1.0:
            raise ValueError("error_rate + drop_rate + malformed_rate must not exceed 1")
        if self.latency_ms < 0 or self.latency_jitter_ms < 0:
            raise ValueError("latency must not be negative")
        if any(status < 500 or status > 599 for status in self.error_statuses) or not self.error_statuses:
            raise ValueError("error_statuses must be 5xx codes")
        object.__setattr__(self, "_pattern", re.compile(self.endpoints) if self.endpoints else None)

    def applies_to(self, endpoint: str) -> bool:
        return self._pattern is None or bool(self._pattern.search(endpoint))

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_pattern", None)
        return {_camel(key): value for key, value in data.items()}

    def updated(self, changes: dict[str, Any]) -> FaultProfile:
        """A copy with the given fields changed (camelCase or snake_case keys)."""
        known = {item.name for item in fields(self) if item.init}
        values: dict[str, Any] = {}
        for key, value in changes.items():
            name = _snake(key)
            if name not in known:
                raise ValueError(
                    f"unknown fault setting {key!r}; known: {', '.join(sorted(_camel(k) for k in known))}"
                )
            if name == "endpoints" and value is not None and not isinstance(value, str):
                raise ValueError(f"'endpoints' is a regular expression on endpoint names, got {value!r}")
            values[name] = tuple(value) if name == "error_statuses" else value
        return replace(self, **values)


@dataclass(frozen=True)
class FaultDecision:
    error_status: int | None = None
    drop: bool = False
    malformed: bool = False


class Faults:
    """Draws a decision per request from a counter, so a seed gives the same fault sequence."""

    def __init__(self, seed: int, profile: FaultProfile | None = None) -> None:
        self._seed = seed
        self.profile = profile or FaultProfile()
        self._counter = 0
        self._lock = threading.Lock()

    def configure(self, profile: FaultProfile) -> None:
        with self._lock:
            self.profile = profile

    def _next(self) -> tuple[random.Random, FaultProfile]:
        with self._lock:
            self._counter += 1
            number, profile = self._counter, self.profile
        return random.Random(mix64(self._seed ^ mix64(number))), profile

    def latency(self) -> float:
        """Seconds to wait before answering this request (every Graph request)."""
        if not self.profile.latency_ms and not self.profile.latency_jitter_ms:
            return 0.0
        rng, profile = self._next()
        return (profile.latency_ms + rng.uniform(0, profile.latency_jitter_ms)) / 1000

    def decide(self, endpoint: str, top_level: bool = True) -> FaultDecision:
        """Whether this Graph request fails, and how. Inside a batch only 5xx answers apply."""
        rng, profile = self._next()
        if not profile.applies_to(endpoint):
            return FaultDecision()
        draw = rng.random()
        if draw < profile.error_rate:
            return FaultDecision(error_status=rng.choice(profile.error_statuses))
        draw -= profile.error_rate
        if top_level and draw < profile.drop_rate:
            return FaultDecision(drop=True)
        draw -= profile.drop_rate
        if top_level and draw < profile.malformed_rate:
            return FaultDecision(malformed=True)
        return FaultDecision()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
