"""Progress lines for long stages (generation, held-out evaluation): at most one line per
``every_seconds`` (and always the last), so an hour-long step shows it is alive without
flooding the run log.

``Progress("held-out: generated", total=3200, emit=context.log.info).update(done)`` emits
``held-out: generated 640/3200 samples (20%, 95 s, about 380 s left)``; the estimate is linear
in the units done in this attempt (``skip`` sets aside those an earlier attempt finished). The
stage passes ``emit`` (the asset passes Dagster's ``context.log.info``, so the UI's run log
shows it); this module knows nothing of Dagster.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Emit = Callable[[str], None]


class Progress:
    """Throttled ``done/total`` lines for one stage (``emit`` None: counted and checked, never
    printed); ``clock`` (seconds) is injectable for tests."""

    def __init__(
        self,
        label: str,
        total: int,
        emit: Emit | None,
        unit: str = "samples",
        every_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if total < 0:
            raise ValueError(f"progress {label!r}: total must be >= 0, got {total}")
        self.label, self.total, self.unit = label, total, unit
        self.emit, self.every_seconds, self.clock = emit, every_seconds, clock
        self.started = clock()
        self.skipped = 0  # units done before this attempt (not in the time estimate)
        self.last_emitted: float | None = None
        self.finished = False

    def skip(self, done: int) -> None:
        """``done`` units were finished by an earlier attempt: say so, and time from now."""
        if not 0 <= done <= self.total:
            raise ValueError(f"progress {self.label!r}: done {done} outside 0..{self.total}")
        self.skipped, self.started = done, self.clock()
        if done and self.emit is not None:
            self.emit(f"{self.label}: {done} {self.unit} stored by an earlier attempt")

    def line(self, done: int) -> str:
        """``<label> done/total <unit> (pct%, elapsed s, about N s left)``; the estimate is
        ``elapsed * (total - done) / (done - skipped)``."""
        elapsed = self.clock() - self.started
        text = f"{self.label} {done}/{self.total} {self.unit}"
        if self.total:
            text += f" ({100 * done // self.total}%, {elapsed:.0f} s"
            if self.skipped < done < self.total:
                left = elapsed * (self.total - done) / (done - self.skipped)
                text += f", about {left:.0f} s left"
            text += ")"
        return text

    def update(self, done: int, total: int | None = None) -> None:
        """Record ``done`` units; emit a line if ``every_seconds`` passed since the last line
        (or the start), and once when the stage is complete. ``total`` (optional) must equal
        the declared total, so a callback that counts something else fails loudly."""
        if total is not None and total != self.total:
            raise ValueError(f"progress {self.label!r}: total {total} != declared {self.total}")
        if not 0 <= done <= self.total:
            raise ValueError(f"progress {self.label!r}: done {done} outside 0..{self.total}")
        if self.emit is None:
            return
        now = self.clock()
        since = now - (self.started if self.last_emitted is None else self.last_emitted)
        if (done == self.total and not self.finished) or (
            done < self.total and since >= self.every_seconds
        ):
            self.emit(self.line(done))
            self.last_emitted = now
            self.finished = done == self.total
