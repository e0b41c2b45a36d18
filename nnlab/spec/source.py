"""Where a spec came from: its file and the line of each key in it, for error messages that point
at the place to fix (`SpecSource`). Both the loader and the checks made after loading use it."""

from __future__ import annotations

from pathlib import Path

from nnlab.errors import SpecError


class SpecSource:
    """Where a spec came from: its file, and the line of each key path in it."""

    def __init__(self, path: Path, lines: dict[tuple, int], overrides: dict[tuple, str]):
        self.path, self.lines, self.overrides = path, lines, overrides

    def position(self, loc: tuple) -> str:
        """'line N, at a.b.c' for a key path (the line of its nearest parent that has one)."""
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top level)"
        for i in range(len(loc), 0, -1):
            if loc[:i] in self.overrides:
                return f"--set {self.overrides[loc[:i]]}, at {dotted}"
        for i in range(len(loc), -1, -1):
            if loc[:i] in self.lines:
                return f"line {self.lines[loc[:i]]}, at {dotted}"
        return f"at {dotted}"

    def line_of(self, loc: tuple) -> int:
        for i in range(len(loc), -1, -1):
            if loc[:i] in self.lines:
                return self.lines[loc[:i]]
        return 0

    def where(self, loc: tuple) -> str:
        return f"{self.path}, {self.position(loc)}"

    def error(self, loc: tuple, message: str) -> SpecError:
        return SpecError(f"Spec error in {self.where(loc)}:\n  {message}")


def spec_source(spec) -> SpecSource:
    """The source a loaded spec remembers (or a placeholder for a spec built in code)."""
    return getattr(spec, "_source", None) or SpecSource(Path("<spec>"), {}, {})
