"""gridgov totp USER: enrol (or show) a user's authenticator; --code prints the current code."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from gridgov.accounts import totp
from gridgov.accounts.models import TotpDevice, User
from gridgov.core import audit


class Command(BaseCommand):
    help = (
        "Enrol USER's TOTP authenticator (or show it) and print the secret and otpauth:// URI; "
        "--code prints the current 6-digit code (to try the demo), --reset issues a new secret, "
        "--remove unbinds the authenticator."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--code", action="store_true", help="print the current code only")
        group.add_argument("--reset", action="store_true", help="issue a new secret")
        group.add_argument("--remove", action="store_true", help="unbind the authenticator")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = User.objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"no user {opts['username']!r}")
        if opts["code"]:
            device = TotpDevice.objects.filter(user=user).first()
            if device is None:
                raise CommandError(f"{user.username} has no authenticator: run gridgov totp USER")
            self.stdout.write(totp.code_at(device.secret))
            return
        if opts["remove"]:
            with transaction.atomic():
                removed = TotpDevice.objects.filter(user=user).delete()[0]
                if removed:
                    audit.record("totp.remove", obj=user, detail={"username": user.username})
            self.stdout.write(f"{user.username}: authenticator removed" if removed else "none")
            return
        with transaction.atomic():
            device, changed = totp.enrol(user, reset=opts["reset"])
            if changed:
                action = "totp.reset" if opts["reset"] else "totp.enrol"
                audit.record(action, obj=user, detail={"username": user.username})
        self.stdout.write(f"user     {user.username}")
        self.stdout.write(f"secret   {device.secret}")
        self.stdout.write(f"uri      {totp.provisioning_uri(user.username, device.secret)}")
