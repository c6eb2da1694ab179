"""Text that enters the platform: no NUL or other control characters (PostgreSQL refuses NUL
in text columns, and control characters only serve to hide things from people and logs)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# C0 controls except tab, newline and carriage return; DEL; C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MESSAGE = "must not contain control characters (such as NUL)"


def has_control(value: str) -> bool:
    return bool(_CONTROL.search(value))


def control_errors(**fields: str | None) -> dict[str, str]:
    """Field → message for every given text that carries control characters."""
    return {name: MESSAGE for name, value in fields.items() if value and has_control(value)}


def _refuse_control(value: str) -> str:
    if has_control(value):
        raise ValueError(MESSAGE)
    return value


# For API schemas: a str that answers 422 on control characters, naming the field.
Text = Annotated[str, AfterValidator(_refuse_control)]
