"""The errors nnlab shows to people.

Every mistake a user can make (a bad spec, unreadable data, a run folder that does not fit) raises a
subclass of `NnlabError`. The CLI prints its message and exits with code 2, never a traceback.
"""

from __future__ import annotations

import difflib
import errno
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
    if len(str(word)) > 100:  # (no option is that long, and difflib would take minutes over 50 MB)
        return ""
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


def first_line(exc: BaseException | str, most: int = 300) -> str:
    """The first non-empty line of an exception's text (a library's reason), cut to `most` characters;
    the exception's type name when it says nothing."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if lines:
        return lines[0][:most]
    return type(exc).__name__ if isinstance(exc, BaseException) else ""


SHOWN_CHARS = 80  # the most characters of a value that a message repeats


def shown(value: object) -> str:
    """A value as a message shows it: its repr, cut to its first 80 characters and its length when
    longer (a 50 MB name is not repeated whole)."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    if isinstance(value, (list, tuple, dict)):
        return f"{text[:SHOWN_CHARS]}… ({len(value):,} items)"
    return f"{text[:SHOWN_CHARS]}… ({len(value) if isinstance(value, (str, bytes)) else len(text):,} characters)"


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 trial', '2 trials' (`many`: the plural when it is not word + 's')."""
    return f"{count} {word if count == 1 else many or word + 's'}"


LINE_CHARS = 1000  # the longest line of a message printed whole


def cut_lines(message: str) -> str:
    """A message with each overlong line cut (what a value in it was not cut by `shown`)."""
    return "\n".join(line if len(line) <= LINE_CHARS else f"{line[:LINE_CHARS]}… ({len(line):,} characters)"
                     for line in message.splitlines() or [""])


class DiskFull(NnlabError):
    """The disk nnlab writes to is full: nothing written before is lost, and the same command resumes."""


def disk_full(exc: BaseException | None) -> bool:
    """Whether `exc` (or what caused it) is a write that failed for want of disk space: an OSError with
    errno ENOSPC, or a library's error that says so in words (h5py's)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def disk_full_message(where: object) -> str:
    return (f"the disk holding {where} is full (No space left on device): free some space on it (df -h "
            f"{where} shows how much is left), then run the same command again; nothing saved before is lost")
