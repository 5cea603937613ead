"""Text from files made safe for a terminal.

Drill names, descriptions, field names and the error messages quoting them come from files a
user may not have written; an escape sequence in them (`\\x1b[2J`, a title change, a hyperlink)
would otherwise act on the terminal. Every control or format character is printed repr-style.
"""

from __future__ import annotations

import unicodedata


def printable(text: str, keep_newlines: bool = False) -> str:
    """`text` with control/format characters as `\\x1b`, `\\u202e`; newlines and tabs kept only
    when asked (multi-line messages the harness itself wrote)."""
    kept = "\n\t" if keep_newlines else ""
    return "".join(
        char if char in kept or not unicodedata.category(char).startswith("C") else repr(char)[1:-1]
        for char in text
    )
