"""The ``gridgov`` command: Django's management commands under the project's settings.

gridgov run            web + task worker + ticker on 127.0.0.1:8000
gridgov demo           load the demo city (Shijiazhuang) and its accounts
gridgov grids import FILE | export [FILE]
gridgov locate LON LAT [--crs wgs84|gcj02|bd09]
gridgov bench locate
gridgov audit verify
gridgov totp USER [--code]
gridgov adminpost grant|revoke|list
gridgov open311 key CLIENT | revoke CLIENT | list
gridgov department connect UNIT URL | disconnect UNIT
gridgov exchange status | push | node add NODE | node revoke NODE
gridgov <any Django command>, e.g. migrate, createsuperuser, shell
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridgov.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    execute_from_command_line(["gridgov", *args])


if __name__ == "__main__":
    main()
