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
        intake = sub.add_parser("intake", help="reports/s over HTTP vs raw durable inserts/s")
        intake.add_argument("--clients", type=int, default=16)
        intake.add_argument("--reports", type=int, default=2000)
        intake.add_argument("--workers", type=int, default=2)
        intake.add_argument("--threads", type=int, default=4)
        con = sub.add_parser("console", help="console pages' server time on 1,000,000 events")
        con.add_argument("--events", type=int, default=1_000_000)
        con.add_argument("--samples", type=int, default=40)
        con.add_argument("--consoles", type=int, default=1000)
        sq = sub.add_parser("square", help="the public square map's server time")
        sq.add_argument("--events", type=int, default=100_000)
        sq.add_argument("--samples", type=int, default=30)
        wx = sub.add_parser("wechat", help="the WeChat callback's answer times under a burst")
        wx.add_argument("--users", type=int, default=50)
        wx.add_argument("--workers", type=int, default=2)
        wx.add_argument("--threads", type=int, default=4)
        tick = sub.add_parser("ticker", help="one tick with many open events and some due")
        tick.add_argument("--open", type=int, default=1_000_000)
        tick.add_argument("--due", type=int, default=1000)
        mix = sub.add_parser("mixed", help="a centre's mix of requests at a fixed offered rate")
        mix.add_argument("--rate", type=float, default=200.0, help="requests/s offered")
        mix.add_argument("--seconds", type=float, default=120.0)
        mix.add_argument("--events", type=int, default=50_000, help="events in the scratch city")
        dur = sub.add_parser("durability", help="intake while the server is killed with kill -9")
        dur.add_argument("--kills", type=int, default=10)
        dur.add_argument("--clients", type=int, default=8)
        dur.add_argument("--interval", type=float, default=3.0, help="seconds between kills")

    def handle(self, *args: Any, **opts: Any) -> None:
        from gridgov.bench.machine import calibrate, speed_line

        out = self.stdout.write
        out(speed_line("before", calibrate()))
        try:
            self._run(out, opts)
        finally:
            out(speed_line("after", calibrate()))

    def _run(self, out: Any, opts: dict[str, Any]) -> None:
        if opts["which"] == "locate":
            from gridgov.bench import locate as bench

            bench.run(out, opts["samples"], opts["seconds"])
            if not opts["no_web"]:
                bench.web_rss(out)
        elif opts["which"] == "intake":
            from gridgov.bench.events import bench_intake

            bench_intake(out, opts["clients"], opts["reports"], opts["workers"], opts["threads"])
        elif opts["which"] == "console":
            from gridgov.bench.console import bench_console

            bench_console(out, opts["events"], opts["samples"], opts["consoles"])
        elif opts["which"] == "square":
            from gridgov.bench.square import bench_square

            bench_square(out, opts["events"], opts["samples"])
        elif opts["which"] == "wechat":
            from gridgov.bench.wechat import bench_wechat

            bench_wechat(out, opts["users"], opts["workers"], opts["threads"])
        elif opts["which"] == "mixed":
            from gridgov.bench.mixed import bench_mixed

            bench_mixed(out, opts["rate"], opts["seconds"], opts["events"])
        elif opts["which"] == "durability":
            from gridgov.bench.durability import bench_durability

            ok = bench_durability(out, opts["kills"], opts["clients"], opts["interval"])
            if not ok:
                raise SystemExit(1)
        else:
            from gridgov.bench.events import bench_ticker

            bench_ticker(out, opts["open"], opts["due"])
