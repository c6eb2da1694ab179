from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from gridgov.core import rotation


class Command(BaseCommand):
    help = (
        "The installation's keys (GRIDGOV_KEY_DIR): `keys show` lists them by fingerprint; "
        "`keys rotate secret|audit|field|index` replaces one; `keys reencrypt` moves every "
        "encrypted value to the current field key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["show", "rotate", "reencrypt"])
        parser.add_argument("key", nargs="?", choices=["secret", "audit", "field", "index"])

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "show":
            self._show()
        elif opts["action"] == "reencrypt":
            self.stdout.write(f"re-encrypted {rotation.reencrypt()} row(s)")
        elif opts["key"] is None:
            self.stderr.write("which key? secret, audit, field or index")
            raise SystemExit(2)
        else:
            self.stdout.write(self._rotate(opts["key"]))

    def _rotate(self, key: str) -> str:
        if key == "secret":
            return f"new secret key {rotation.rotate_secret()}; the old one is a fallback now"
        if key == "audit":
            return f"audit rows from seq {rotation.rotate_audit()} on use a new key"
        if key == "field":
            new_id = rotation.rotate_field()
            return f"field key {new_id} encrypts from now; run `gridgov keys reencrypt`"
        return f"new blind-index key; {rotation.rotate_index()} index value(s) recomputed"

    def _show(self) -> None:
        keys = settings.KEYS
        self.stdout.write(f"key directory: {settings.KEY_DIR}")
        self.stdout.write(f"secret: {rotation.fingerprint(keys.secret_key())}")
        for start, key in keys.audit_keys():
            self.stdout.write(f"audit from seq {start}: {rotation.fingerprint(key)}")
        current, field_keys = keys.field_keys()
        for key_id, key in field_keys.items():
            mark = " (encrypts)" if key_id == current else ""
            self.stdout.write(f"field {key_id}: {rotation.fingerprint(key)}{mark}")
        self.stdout.write(f"index: {rotation.fingerprint(keys.index_key())}")
