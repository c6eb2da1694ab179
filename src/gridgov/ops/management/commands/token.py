from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from gridgov.accounts.models import ApiToken, User
from gridgov.core import audit


class Command(BaseCommand):
    help = "Issue an API token for a user; the secret is printed once and stored only hashed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("name", help="what the token is for, e.g. 'mobile app'")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = User.objects.filter(username=opts["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {opts['username']!r}")
        with transaction.atomic():
            token, raw = ApiToken.issue(user, opts["name"])
            audit.record("token.issue", obj=token, detail={"user": user.username})
        self.stdout.write(raw)
