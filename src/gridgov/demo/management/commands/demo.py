from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gridgov.demo import city as demo


class Command(BaseCommand):
    help = "Load the demo city (Shijiazhuang: real codes, synthetic grids) and its demo accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--county", action="append", help="only these county codes")
        parser.add_argument(
            "--events",
            type=int,
            default=0,
            help="also file this many demo reports in Hongqi street and move them along",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        counts = demo.load(opts["county"])
        self.stdout.write(
            f"demo city: +{counts['regions']} regions, +{counts['grids']} grids, "
            f"+{counts['org_units']} centres/departments, +{counts['checkpoints']} checkpoints"
        )
        if opts["events"]:
            from gridgov.demo.events import seed_events

            added = seed_events(opts["events"])
            self.stdout.write(f"demo events: +{added} (Hongqi street; through the real workflow)")
        print_accounts(self.stdout)


def print_accounts(out: Any) -> None:
    """How to sign in as each demo account: the shared password, and for accounts with a
    second factor its secret and otpauth:// URI (add it to an authenticator app, or ask
    `gridgov totp USER --code` for the current code)."""
    from gridgov.accounts import totp
    from gridgov.accounts.models import TotpDevice, User

    names = set(User.objects.values_list("username", flat=True))
    secrets = dict(TotpDevice.objects.values_list("user__username", "secret"))
    out.write(f"demo accounts (password {demo.demo_password()}; synthetic grids, demo only):")
    for acc in demo.demo_accounts():
        if acc.username not in names:
            continue
        out.write(f"  {acc.username:<20} {acc.display_name:<14} {acc.role:<15} scope {acc.scope}")
        secret = secrets.get(acc.username)
        if secret:
            out.write(f"      TOTP secret {secret}  {totp.provisioning_uri(acc.username, secret)}")
    if secrets:
        out.write("  TOTP accounts also need the current code: gridgov totp USERNAME --code")
