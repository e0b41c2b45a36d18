"""The errors nnlab shows to people.

Every mistake a user can make (a bad spec, unreadable data, a run folder that does not fit) raises a
subclass of `NnlabError`. The CLI prints its message and exits with code 2, never a traceback.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable


class NnlabError(Exception):
    """A problem with the user's input, explained in words. The CLI exits with code 2."""

    exit_code = 2


class SpecError(NnlabError):
    """The spec file is not valid: unreadable YAML, wrong keys, wrong types or values."""


class DataError(NnlabError):
    """The data a spec points to cannot be used as it is."""


class RunError(NnlabError):
    """A run folder cannot be used (exists with other contents, is damaged, ...)."""


def did_you_mean(word: object, options: Iterable[object]) -> str:
    """A ' (did you mean `x`?)' suffix when `word` is close to one of `options`, else ''."""
    names = [str(o) for o in options]
    lowered = {n.lower(): n for n in names}
    text = str(word)
    if text.lower() in lowered and lowered[text.lower()] != text:
        return f" (did you mean `{lowered[text.lower()]}`?)"
    longer = sorted((n for n in lowered if len(text) >= 3 and n.startswith(text.lower()) and n != text.lower()),
                    key=len)
    if longer:  # an abbreviation: val_acc for val_accuracy
        return f" (did you mean `{lowered[longer[0]]}`?)"
    cutoff = 0.5 if len(text) <= 3 else 0.6  # short words differ by one letter at 0.5
    close = difflib.get_close_matches(text.lower(), list(lowered), n=1, cutoff=cutoff)
    return f" (did you mean `{lowered[close[0]]}`?)" if close else ""


def web_address(path: object) -> str | None:
    """The web address `path` is (`https://…`, also as a Path has merged its `//`), or None."""
    text = str(path).strip()
    match = re.match(r"^(https?|ftp|s3|gs)(:/+)", text, re.I)
    return None if match is None else f"{match.group(1)}://{text[match.end():]}"


def web_address_message(address: str) -> str:
    return (f"{address} is a web address; nnlab reads files on this machine. Download it first (in a notebook: "
            f"!wget '{address}'; in a shell: curl -LO '{address}'), then give the file's path")
