"""Opening a run folder: may this spec run (or resume) here, and the inputs written beside results.

A run folder is reused only by the search that made it: `check_run_dir` compares the spec's hash with
the one in `summary.json` and names what changed. A folder that is not an nnlab run is never written
into or deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from nnlab.data.dataset import Dataset
from nnlab.errors import RunError, first_line
from nnlab.runs import files
from nnlab.runs.records import Summary
from nnlab.runs.trialprogress import TrialProgress
from nnlab.spec.loader import ADDED_KEYS, RESUMABLE_CHANGES, spec_hash, spec_to_dict
from nnlab.spec.schema import CSV_READER, Spec


def check_run_dir(run_dir: Path, spec: Spec, overwrite: bool, warn=print) -> Summary | None:
    """The previous summary when resuming (an empty one if it is damaged), None for a fresh run; errors
    for a folder that cannot be used: a file, a folder that is not an nnlab run, a run of another spec."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} exists and is a file; choose another --name or --runs-dir")
    _check_outside_data(run_dir, spec)
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return None
    if not (files.is_run_dir(run_dir) or (run_dir / files.TUNER_DIR).is_dir()):
        raise RunError(
            f"{run_dir} exists and is not an nnlab run folder; nnlab will not write into it or delete it. "
            "Choose another --name or --runs-dir"
        )
    if overwrite:
        return None
    _remove_temporary_files(run_dir)
    summary_path = run_dir / files.SUMMARY
    problems: list[str] = [] if summary_path.is_file() else ["it is missing"]
    try:
        previous = files.read_summary(summary_path, problems) if summary_path.is_file() else Summary()
    except (OSError, ValueError, TypeError) as exc:
        problems.append(first_line(exc, 200))
        previous = Summary()
    if problems and (run_dir / files.BEST_MODEL).is_file() and not previous.best_model_trial:
        raise RunError(f"{summary_path} is damaged ({problems[0]}), and without it nnlab cannot tell what best.keras "
                       "holds; it will not replace that model on a guess. Put summary.json back, or move best.keras "
                       "out of the run folder to let this run rebuild it, or --overwrite to start over")
    for problem in problems if summary_path.is_file() else ():  # (what it cannot read; the rest is kept)
        warn(f"{summary_path} is damaged ({problem}); it will be rewritten from what the run's other files hold")
    _check_trial_progress(run_dir)
    old_hash = previous.spec_hash
    if old_hash == spec_hash(spec):
        return previous
    if old_hash and old_hash == spec_hash(spec, csv_reader=None):
        raise RunError(
            f"{run_dir} was read by the first version of nnlab's CSV rules (its preprocessing.json records no "
            f"reader; this nnlab reads with version {CSV_READER}), and version {CSV_READER} reads some files "
            "differently (encodings, numbers, dates, identifier columns), so its trials cannot be continued with "
            "features read another way. Use --overwrite to start this run over, or --name NAME to run beside it; "
            "the old run still compares, predicts and evaluates as before."
        )
    changes = _spec_changes(run_dir / files.SPEC_COPY, spec)  # no summary: compare the spec copy
    if old_hash or changes:
        raise RunError(
            f"{run_dir} holds a sweep of a different spec{changes}.\n"
            "  Mixing trials of two searches would make the results meaningless. Use --overwrite to start "
            "this run over, or --name NAME to run the new spec beside it."
        )
    return previous


def _check_trial_progress(run_dir: Path) -> None:
    """Every trial's progress file read before anything is written: one nnlab cannot read is exit 2
    naming it (`readback.DamagedFile`), never a trial re-decided (pruned, its checkpoint deleted)."""
    for trial_dir in sorted((run_dir / files.TUNER_DIR).glob("trial_*")):
        TrialProgress.read(trial_dir / files.TRIAL_PROGRESS)


def _check_outside_data(run_dir: Path, spec: Spec) -> None:
    """A run folder inside a folder of data (images) would be read as data by the next run: refused."""
    where = Path(os.path.realpath(run_dir))
    for name in ("path", "validation_path"):
        data = getattr(spec.data, name, None)
        if isinstance(data, (str, Path)) and Path(data).is_dir():
            folder = Path(os.path.realpath(data))
            if folder == where or folder in where.parents:
                raise RunError(f"the run folder {run_dir} would be inside the data folder {data} (data.{name}), "
                               "where the next run would read it as data; give --runs-dir a folder outside it "
                               "(e.g. --runs-dir runs)")


def _remove_temporary_files(run_dir: Path) -> None:
    """Temporary files of writes cut short by a kill: never read, safe to delete."""
    for path in run_dir.rglob("*"):
        if path.is_file() and path.name.startswith(".") and (path.name.endswith(".tmp") or ".tmp." in path.name):
            path.unlink(missing_ok=True)


def _spec_changes(old_path: Path, spec: Spec) -> str:
    import yaml

    try:
        old = yaml.safe_load(old_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    new = spec_to_dict(spec)
    changed = []

    def walk(a, b, path):
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        elif a != b and path != "name" and path.removeprefix("search.") not in RESUMABLE_CHANGES \
                and not _default_added(path, a, b):
            changed.append(f"{path}: {a!r} → {b!r}")

    walk(old, new, "")
    return (" (changed: " + "; ".join(changed[:5]) + ")") if changed else ""


def _default_added(path: str, old, new) -> bool:
    """A key the old spec copy lacks (added to nnlab later) that holds its default now."""
    section, _, key = path.partition(".")
    defaults = ADDED_KEYS.get(section, {})
    return old is None and key in defaults and new == defaults[key]


def write_run_inputs(folder: Path, spec: Spec, data: Dataset) -> None:
    import yaml

    files.write_atomic(folder / files.SPEC_COPY, yaml.safe_dump(spec_to_dict(spec), sort_keys=False))
    files.write_json(folder / files.PREPROCESSING, data.preparation.to_json())


def _leftovers(parent: Path, name: str) -> list[Path]:
    """This run's own temporary folders (`.NAME.new-XXXX`, `.NAME.old-XXXX`), never another run's:
    `.mlp.v2.new-XXXX` belongs to the run `mlp.v2`, not to `mlp`."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(new|old)-[A-Za-z0-9_]+")
    return [p for p in parent.iterdir() if pattern.fullmatch(p.name)] if parent.is_dir() else []


def prepare_run_dir(run_dir: Path, fresh: bool, fill: Callable[[Path], None]) -> None:
    """Make `run_dir` ready: `fill(folder)` writes its files. A fresh run folder is filled under a
    hidden temporary name and renamed into place, so a kill never leaves a run folder without its
    summary; an old one replaced by --overwrite is moved aside first and deleted last."""
    parent = run_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    for leftover in _leftovers(parent, run_dir.name):  # from a kill during an earlier start
        shutil.rmtree(leftover, ignore_errors=True)
    if not fresh:
        fill(run_dir)
        return
    new = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.new-", dir=parent))
    fill(new)
    old = None
    if run_dir.exists() and any(run_dir.iterdir()):
        old = parent / f".{run_dir.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(run_dir, old)
    elif run_dir.exists():
        run_dir.rmdir()
    os.rename(new, run_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

