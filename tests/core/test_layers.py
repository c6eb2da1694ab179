"""The layer contract (pyproject.toml, DESIGN §3) is checked by `./dev test`; this shows that it
fails when a core module imports a domain app, and that today's tree keeps it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_tree_keeps_its_layers() -> None:
    out = lint(ROOT / "src")
    assert out.returncode == 0, out.stdout[-3000:]
    assert "2 kept, 0 broken" in out.stdout


def test_a_core_module_importing_a_domain_app_breaks_the_contract(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "gridgov", src / "gridgov", ignore=shutil.ignore_patterns("*.pyc")
    )
    (src / "gridgov" / "core" / "sneaky.py").write_text("from gridgov.events import models\n")
    out = lint(src)
    assert out.returncode != 0
    assert "gridgov.core.sneaky -> gridgov.events.models" in out.stdout
