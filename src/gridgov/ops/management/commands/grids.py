from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gridgov.geo.crs import CRS
from gridgov.regions.grid_import import ImportRejected
from gridgov.regions.models import Grid
from gridgov.regions.services import do_import_grids, export_grids


class Command(BaseCommand):
    help = "Import or export grids as GeoJSON (WGS-84)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="check a file and, if it has no problems, redraw")
        imp.add_argument("file")
        imp.add_argument(
            "--crs",
            choices=[c.value for c in CRS],
            default="wgs84",
            help="coordinate system of the file's coordinates",
        )
        imp.add_argument("--dry-run", action="store_true", help="check only")
        exp = sub.add_parser("export", help="write current grids as GeoJSON")
        exp.add_argument("file", nargs="?", default="-")
        exp.add_argument("--under", default="", help="only grids under this region code")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "import":
            self._import(opts)
        else:
            self._export(opts)

    def _import(self, opts: dict[str, Any]) -> None:
        path = Path(opts["file"])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{path}: cannot read GeoJSON: {exc}") from exc
        try:
            if opts["dry_run"]:
                from gridgov.regions.grid_import import check

                features = check(data, opts["crs"])
                self.stdout.write(f"{path}: {len(features)} grids, no problems (dry run)")
                return
            revision = do_import_grids(data, source=f"import {path.name}", crs=opts["crs"])
        except ImportRejected as rejected:
            for problem in rejected.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"{path}: {len(rejected.problems)} problem(s); nothing was changed"
            ) from None
        self.stdout.write(f"{path}: imported {revision.grid_count} grids as revision {revision.pk}")

    def _export(self, opts: dict[str, Any]) -> None:
        grids = Grid.objects.filter(effective_to__isnull=True)
        if opts["under"]:
            from gridgov.core.codes import code_range

            grids = grids.filter(code_range("code", opts["under"]))
        text = json.dumps(export_grids(grids), ensure_ascii=False)
        if opts["file"] == "-":
            sys.stdout.write(text + "\n")
        else:
            Path(opts["file"]).write_text(text + "\n", encoding="utf-8")
            self.stderr.write(f"wrote {grids.count()} grids to {opts['file']}")
