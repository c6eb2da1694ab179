"""Test personas made by factories: people holding one post each, in the demo city's regions
(the regions and centres are shared reference data; the people are made per test). The demo
city's own accounts stay for the story tests, which follow named people of the newspaper.

Within one test a persona is one person (asking twice gives the same user), so a rule like
"the handler may not verify their own work" can be tested; between tests they are new."""

from __future__ import annotations

from typing import Any

from gridgov.accounts.models import User
from gridgov.accounts.roles import Role

from .factories import user_with_post

HONGQI = "130104008"  # 红旗大街街道, Qiaoxi
HUIWEN = "130104008019"  # 汇文街社区
GRID8 = "130104008019008"

_made: dict[tuple[str, str, str], User] = {}


def reset() -> None:
    """Forget this test's personas (tests/conftest.py calls it around every test)."""
    _made.clear()


def persona(role: str, scope: str, unit: str | None = None, **kw: Any) -> User:
    key = (role, scope, unit or "")
    if key not in _made:
        _made[key] = user_with_post(role, scope, unit, **kw)
    return _made[key]


def township_operator(scope: str = HONGQI) -> User:
    return persona(Role.OPERATOR, scope)


def township_leader(scope: str = HONGQI) -> User:
    return persona(Role.CENTRE_LEADER, scope)


def grid_worker(grid: str = GRID8) -> User:
    return persona(Role.GRID_WORKER, grid)


def grid_leader(village: str = HUIWEN) -> User:
    return persona(Role.GRID_LEADER, village)


def department_handler(unit: str = "D1301-01", scope: str = "1301") -> User:
    return persona(Role.DEPT_HANDLER, scope, unit)


def county_operator(scope: str = "130104") -> User:
    return persona(Role.OPERATOR, scope)


def county_leader(scope: str = "130104") -> User:
    return persona(Role.CENTRE_LEADER, scope)


def city_analyst(scope: str = "1301") -> User:
    return persona(Role.LEADER, scope)


def mediator(scope: str = HONGQI) -> User:
    return persona(Role.MEDIATOR, scope)
