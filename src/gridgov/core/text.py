"""Text that enters the platform: no NUL or other control characters (PostgreSQL refuses NUL
in text columns, and control characters only serve to hide things from people and logs), no
bidirectional overrides (they make a note or a reason read differently from what is stored),
and required texts must show something (not only spaces or invisible characters)."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

# C0 controls except tab, newline and carriage return; DEL; C1 controls; zero-width space,
# word joiner and BOM (they hide text); bidi embeddings, overrides and isolates
# (U+202A–U+202E, U+2066–U+2069) and marks (U+200E, U+200F, U+061C). Zero-width (non-)joiners
# stay: emoji and scripts need them.
_REFUSED = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069"
    "\u200e\u200f\u061c"
)
_CONTROL = re.compile(f"[{_REFUSED}]")
# The same rule for the OpenAPI description (an ECMA-262 pattern, as JSON Schema reads it).
PATTERN = (
    "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f\\u200b\\u2060\\ufeff"
    "\\u202a-\\u202e\\u2066-\\u2069\\u200e\\u200f\\u061c]*$"
)
MESSAGE = (
    "must not contain control characters (such as NUL), zero-width spaces or direction overrides"
)


def has_control(value: str) -> bool:
    return bool(_CONTROL.search(value))


# Letters and symbols that draw nothing: Hangul fillers, the blank Braille pattern, Khmer
# inherent vowels, Mongolian vowel separator.
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5\u180e")


def visible(value: str) -> str:
    """``value`` without whitespace, invisible format characters (zero-width space…), blank
    letters (Hangul filler…) and combining marks standing alone (they draw nothing by
    themselves): what a person would actually see."""
    return "".join(
        ch
        for ch in value
        if not ch.isspace()
        and ch not in _BLANK
        and unicodedata.category(ch) not in ("Cf", "Cc", "Mn", "Me")
    )


def control_errors(**fields: str | None) -> dict[str, str]:
    """Field → message for every given text that carries control characters."""
    return {name: MESSAGE for name, value in fields.items() if value and has_control(value)}


def _refuse_control(value: str) -> str:
    if has_control(value):
        raise ValueError(MESSAGE)
    return value


# For API schemas: a str that answers 422 on control characters, naming the field.
Text = Annotated[
    str, AfterValidator(_refuse_control), Field(json_schema_extra={"pattern": PATTERN})
]
