"""The machine-speed line every benchmark prints before and after its figures."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from gridgov.bench import machine


def test_the_speed_line_names_the_loop_and_its_seconds() -> None:
    assert machine.speed_line("before", 1.234) == (
        "machine speed (before): 10,000,000 Python additions took 1.23 s of CPU"
    )


def test_the_loop_is_measured_in_cpu_seconds() -> None:
    assert machine.calibrate(1000) >= 0.0


@pytest.mark.django_db
def test_a_benchmark_prints_the_speed_before_and_after(monkeypatch: pytest.MonkeyPatch) -> None:
    from gridgov.bench.management.commands.bench import Command

    monkeypatch.setattr(machine, "calibrate", lambda: 0.5)
    ran: list[str] = []
    monkeypatch.setattr(Command, "_run", lambda self, out, opts: ran.append(opts["which"]))
    buf = StringIO()
    call_command("bench", "ticker", stdout=buf)
    lines = buf.getvalue().splitlines()
    assert ran == ["ticker"]
    assert lines == [machine.speed_line("before", 0.5), machine.speed_line("after", 0.5)]
