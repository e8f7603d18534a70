"""When to restart a crashed plugin, as a plain object fed with clock readings (no IO).

Like the Mattermost server, a plugin that keeps failing is given up on: more than ``limit``
failures within ``window`` seconds stop the restarts. Between restarts the delay doubles from
``initial_delay`` up to ``max_delay``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class RestartPolicy:
    """Decides, failure by failure, whether and after what delay to start the plugin again."""

    limit: int = 3
    window: float = 3600.0
    initial_delay: float = 0.5
    max_delay: float = 30.0
    _failures: deque[float] = field(default_factory=deque, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.limit < 0 or self.window <= 0 or self.initial_delay < 0 or self.max_delay < self.initial_delay:
            raise ValueError(f"invalid restart policy: {self!r}")

    def failure(self, now: float) -> float | None:
        """Record a failure at ``now`` (monotonic seconds); the delay before restarting, or None to give up."""
        self._failures.append(now)
        while self._failures and now - self._failures[0] > self.window:
            self._failures.popleft()
        recent = len(self._failures)
        if recent > self.limit:
            return None
        return min(self.max_delay, self.initial_delay * 2.0 ** (recent - 1))

    @property
    def recent_failures(self) -> int:
        """Failures recorded within the window at the time of the last :meth:`failure` call."""
        return len(self._failures)


__all__ = ["RestartPolicy"]
