"""How often, and how long apart, work that failed for a passing reason is tried again: an
export Sage turned away for its rate limit or could not be reached, a mail the SMTP server
refused. The reaper (portal.domain.recovery) queues each try when it is due, so retries do
not depend on RQ's scheduler."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Backoff:
    """The waits before the 2nd, 3rd... try: len(delays) + 1 tries in all."""
    delays: tuple[int, ...]

    @property
    def attempts(self) -> int:
        return len(self.delays) + 1

    def after(self, tried: int) -> timedelta | None:
        """The wait after `tried` tries, or None when they are spent."""
        if tried < 1 or tried >= self.attempts:
            return None
        return timedelta(seconds=self.delays[tried - 1])

    @classmethod
    def parse(cls, text: str | None, default: Backoff) -> Backoff:
        """Seconds separated by commas ("30,120,600,1800"); empty text is the default."""
        if not text or not text.strip():
            return default
        try:
            delays = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise ValueError(f"expected seconds separated by commas, got {text!r}") from None
        if any(d < 0 for d in delays):
            raise ValueError(f"waits cannot be negative: {text!r}")
        return cls(delays)


# Sage's rate limit resets within the hour; an unreachable Sage is usually back in minutes.
EXPORT_RETRY = Backoff((30, 120, 600, 1800))
# SMTP servers have bad minutes.
MAIL_RETRY = Backoff((10, 60, 300, 900))
