"""The machine's speed, printed beside a benchmark's figures: these machines' speed varies from
day to day (a fixed Python loop took 0.5 s on one day and 1.5 s on another), and figures of
different days can only be put side by side with it."""

from __future__ import annotations

import time

LOOP = 10_000_000  # additions


def calibrate(loop: int = LOOP) -> float:
    """Seconds of this process's CPU for ``loop`` additions in a plain Python loop."""
    start = time.process_time()
    total = 0
    for i in range(loop):
        total += i
    assert total == loop * (loop - 1) // 2  # the loop ran whole
    return time.process_time() - start


def speed_line(when: str, seconds: float, loop: int = LOOP) -> str:
    return f"machine speed ({when}): {loop:,} Python additions took {seconds:.2f} s of CPU"
