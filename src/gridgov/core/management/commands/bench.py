from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Benchmarks that print figures beside a baseline measured in the same run."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="which", required=True)
        loc = sub.add_parser("locate", help="grid lookups/s vs a naive polygon scan; memory")
        loc.add_argument("--samples", type=int, default=20000)
        loc.add_argument("--seconds", type=float, default=3.0, help="time budget per method")
        loc.add_argument("--no-web", action="store_true", help="skip the web-process RSS check")

    def handle(self, *args: Any, **opts: Any) -> None:
        from gridgov.geo import bench

        bench.run(self.stdout.write, opts["samples"], opts["seconds"])
        if not opts["no_web"]:
            bench.web_rss(self.stdout.write)
