"""One progress line per update, for people reading a `pulumi up` log or a terminal.

  tune: 5/16 trials done (2 stopped early), best cv rmse 55.8123 (ridge), elapsed 3s, ETA 6s

Format (callers may match it): `tune: <done>/<total> trials done`, then ` (<k> stopped early)`
and/or ` (<k> failed)` when non-zero, then `, best cv rmse <x|->` with the family in
parentheses, `, elapsed <duration>, ETA <duration|?>`; the last line of a search ends with
`, ETA 0s` and is always printed. Durations: `42s`, `3m05s`, `1h02m`. The ETA assumes every
trial still running goes through all folds, so it is an upper bound when ASHA stops trials.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .search import Progress


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def format_progress(p: Progress, prefix: str = "tune") -> str:
    extra = []
    if p.stopped:
        extra.append(f"{p.stopped} stopped early")
    if p.failed:
        extra.append(f"{p.failed} failed")
    note = f" ({', '.join(extra)})" if extra else ""
    best = "-" if p.best is None else f"{p.best:.4f} ({p.best_family})"
    return (f"{prefix}: {p.done}/{p.total} trials done{note}, best cv rmse {best}, "
            f"elapsed {duration(p.elapsed)}, ETA {duration(p.eta)}")


class ProgressPrinter:
    """Prints format_progress() lines: at most one per `interval` seconds, and the final one."""

    def __init__(self, stream: TextIO | None = None, interval: float = 2.0, prefix: str = "tune"):
        self.stream = stream
        self.interval = interval
        self.prefix = prefix
        self._last = -float("inf")
        self._text = None
        self.lines = 0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if not p.final and now - self._last < self.interval:
            return
        text = format_progress(p, self.prefix)
        if text == self._text:
            return
        self._last, self._text = now, text
        stream = self.stream or sys.stderr
        print(text, file=stream, flush=True)
        self.lines += 1
