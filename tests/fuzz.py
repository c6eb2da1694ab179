"""Schemathesis (its command line) against the live API's OpenAPI description, for the fuzz
tests: one run, signed in with a bearer token, with a fixed seed; the count of the requests it
generated comes from its NDJSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run_schemathesis(
    port: int,
    token: str,
    workdir: Path,
    *,
    config: str,
    checks: list[str],
    examples: str,
    seed: str,
    select: tuple[str, ...] = (),
    log: Path | None = None,
) -> int:
    """Run schemathesis in ``workdir`` with ``config`` (TOML: dictionaries, per-operation
    parameters) and ``select`` (its --include-*/--exclude-* options); fail on any failed check,
    else return how many requests it generated. Its output goes to ``log`` when given."""
    config_file = workdir / "schemathesis.toml"
    config_file.write_text(config)
    report = workdir / "report.ndjson"
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config_file),
        "run",
        f"http://127.0.0.1:{port}/api/v1/openapi.json",
        *select,
        "--checks",
        ",".join(checks),
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        examples,
        "--seed",
        seed,
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--request-timeout",
        "60",
        "--suppress-health-check",
        "all",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=workdir)
    if log is not None:
        log.write_text(out.stdout)
    assert out.returncode == 0, out.stdout[-8000:] + out.stderr[-2000:]
    cases = sum(
        len(json.loads(line).get("ScenarioFinished", {}).get("recorder", {}).get("cases", {}))
        for line in report.read_text().splitlines()
    )
    print(f"schemathesis: {cases} generated requests\n{out.stdout[-3000:]}")
    return cases
