from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gridgov.core import anchors, retention, verify
from gridgov.core.models import AuditLog


class Command(BaseCommand):
    help = (
        "Audit log tools. `audit verify` checks the hash chain, its checkpoints and anchors and "
        "names every bad row; `audit prune --archive-dir DIR` moves rows older than the "
        "retention period out to an archive under a signed checkpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify", "prune"])
        parser.add_argument(
            "--anchors",
            action="append",
            default=[],
            type=Path,
            help="a copy of the anchors kept elsewhere (file or syslog lines); repeatable",
        )
        parser.add_argument(
            "--archive",
            action="append",
            default=[],
            type=Path,
            help="an archive written by prune, checked against its checkpoint; repeatable",
        )
        parser.add_argument("--archive-dir", type=Path, help="prune: where archives go")
        parser.add_argument("--days", type=int, help="prune: retention in days (default setting)")
        parser.add_argument("--dry-run", action="store_true", help="prune: only say what")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "prune":
            self._prune(opts)
            return
        problems = verify.verify(opts["anchors"])
        for path in opts["archive"]:
            problems += retention.verify_archive(path)
        total = AuditLog.objects.count()
        self._warn_without_anchors(total)
        if problems:
            for p in problems:
                self.stderr.write(str(p))
            raise CommandError(f"audit chain BROKEN: {len(problems)} problem(s) in {total} rows")
        self.stdout.write(f"audit chain ok: {total} rows")

    def _warn_without_anchors(self, total: int) -> None:
        """Not a broken chain by itself (a new installation has none before its first tick),
        but a deleted anchor file must not pass unremarked."""
        if not anchors.read():
            self.stderr.write(
                f"warning: no anchors in {anchors.path()}; a chain of {total} rows is checked "
                "against nothing outside the database (is the ticker running? was it deleted?)"
            )
        if total == 0:
            self.stderr.write("warning: the audit log is empty")

    def _prune(self, opts: dict[str, Any]) -> None:
        try:
            plan = retention.plan(days=opts["days"])
            if plan is None:
                self.stdout.write("nothing is older than the retention period")
                return
            if opts["dry_run"]:
                self.stdout.write(f"would move out seq {plan.first}..{plan.last}")
                return
            if opts["archive_dir"] is None:
                raise CommandError("--archive-dir is required")
            cp = retention.prune(opts["archive_dir"], days=opts["days"])
        except retention.RetentionError as exc:
            raise CommandError(str(exc)) from None
        if cp is not None:
            self.stdout.write(
                f"moved out seq {cp.first_seq}..{cp.seq} ({cp.rows} rows) to "
                f"{opts['archive_dir'] / cp.archive_name}; checkpoint signed"
            )
