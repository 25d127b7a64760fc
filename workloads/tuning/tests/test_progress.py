"""Progress lines: one per update, trials done/total, best so far, elapsed, ETA."""
import io
import re

from rayswarm_tuning.progress import ProgressPrinter, duration, format_progress
from rayswarm_tuning.search import Progress

LINE = re.compile(r"^tune: (\d+)/(\d+) trials done( \([^)]*\))?, best cv rmse (-|[\d.]+ \(\w+\)), "
                  r"elapsed (\S+), ETA (\S+)$")


def p(**kw):
    base = dict(done=0, total=10, finished=0, stopped=0, failed=0, best=None, best_family=None,
                elapsed=0.0, eta=None)
    base.update(kw)
    return Progress(**base)


def test_durations():
    assert [duration(s) for s in (None, 0, 4.4, 59.6, 61, 3599, 3720)] == \
        ["?", "0s", "4s", "1m00s", "1m01s", "59m59s", "1h02m"]


def test_format():
    assert format_progress(p()) == "tune: 0/10 trials done, best cv rmse -, elapsed 0s, ETA ?"
    line = format_progress(p(done=7, stopped=2, failed=1, finished=4, best=52.96731,
                             best_family="ridge", elapsed=75, eta=12.2))
    assert line == ("tune: 7/10 trials done (2 stopped early, 1 failed), best cv rmse 52.9673 "
                    "(ridge), elapsed 1m15s, ETA 12s")
    assert LINE.match(line)


def test_printer_limits_the_rate_but_always_prints_the_last_line():
    out = io.StringIO()
    printer = ProgressPrinter(out, interval=3600)
    for i in range(1, 6):
        printer(p(done=i, elapsed=i, eta=10 - i))
    printer(p(done=10, elapsed=9, eta=0.0, final=True))
    printer(p(done=10, elapsed=9, eta=0.0, final=True))  # the same line twice: printed once
    lines = out.getvalue().splitlines()
    assert [LINE.match(x).group(1) for x in lines] == ["1", "10"]
