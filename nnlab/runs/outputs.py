"""Where a command may write what it makes (predictions, a table, a report, plots, an export, a spec):
never over a file of a run folder, nor over the command's own input. One rule for every command.

Inside a run folder, the names nnlab keeps there (summary.json, trials.csv, best.keras, tuner/, …) are
refused whether they exist yet or not (a sweep may be about to write them), and so is every file that
exists there; a new file of another name is allowed (`predict R new.csv -o R/new_predictions.csv`).
A command's own place in a run (report's RUN/report.html, plot's RUN/plots/, explain's RUN/explain/) is allowed
to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from nnlab.errors import RunError
from nnlab.runs import files

# what nnlab writes in a run folder (the engine's tensorboard/ and retrain's retrain.json included)
KEPT = {files.SUMMARY, files.TRIALS, files.SPEC_COPY, files.PREPROCESSING, files.BEST_MODEL, files.TUNER_DIR,
        "tensorboard", "retrain.json", "report.html", "plots", "explain"}
MARKS = (files.SPEC_COPY, files.TUNER_DIR, files.PREPROCESSING, files.BEST_MODEL)  # (with a summary: a run)


def check_output(path: str | Path, option: str = "--output", *, inputs: Iterable[str | Path | None] = (),
                 own: Iterable[str | Path] = ()) -> None:
    """A `RunError` (exit 2) when writing `path` would replace a run's file or one of `inputs`;
    `own`: paths in a run folder that belong to this command (its default output there)."""
    target = _resolved(path)
    for given in inputs:
        if given is not None and _same(target, _resolved(given)):
            raise RunError(f"{option} {path} is this command's own input: writing there would replace it; "
                           "give another path")
    if is_run(target):
        raise RunError(f"{option} {path} is a run folder; give a path outside it")
    mine = [_resolved(p) for p in own]
    if any(target == p or p in target.parents for p in mine):
        return
    for folder in target.parents:
        if is_run(folder):
            part = target.relative_to(folder).parts[0]
            if part in KEPT or target.exists():
                raise RunError(f"{option} {path} would write over {part} of the run folder {folder}; nnlab never "
                               "writes a command's output over a run's files: give a path outside it, or a new file "
                               "name")
            return


def is_run(folder: Path) -> bool:
    """A folder nnlab made for a run: its summary or trials beside one of its other files."""
    return files.is_run_dir(folder) and any((folder / name).exists() for name in MARKS)


def _resolved(path: str | Path) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def _same(a: Path, b: Path) -> bool:
    try:
        return a == b or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False
