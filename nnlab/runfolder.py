"""Opening a run folder: may this spec run (or resume) here, and the inputs written beside results.

A run folder is reused only by the search that made it: `check_run_dir` compares the spec's hash with
the one in `summary.json` and names what changed. A folder that is not an nnlab run is never written
into or deleted.
"""

from __future__ import annotations

from pathlib import Path

from . import results
from .data import Dataset
from .errors import RunError
from .spec import Spec
from .specfile import spec_hash, spec_to_dict


def check_run_dir(run_dir: Path, spec: Spec, overwrite: bool) -> dict | None:
    """The previous summary when resuming; errors for a folder that cannot be used."""
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return None
    if not run_dir.is_dir():
        raise RunError(f"{run_dir} exists and is a file; choose another --name or --runs-dir")
    if not (results.is_run_dir(run_dir) or (run_dir / results.TUNER_DIR).is_dir()):
        raise RunError(
            f"{run_dir} exists and is not an nnlab run folder; nnlab will not write into it or delete it. "
            "Choose another --name or --runs-dir"
        )
    if overwrite:
        return None
    summary_path = run_dir / results.SUMMARY
    previous = results.read_json(summary_path) if summary_path.is_file() else {}
    old_hash = previous.get("spec_hash")
    if old_hash and old_hash != spec_hash(spec):
        changes = _spec_changes(run_dir / results.SPEC_COPY, spec)
        raise RunError(
            f"{run_dir} holds a sweep of a different spec{changes}.\n"
            "  Mixing trials of two searches would make the results meaningless. Use --overwrite to start "
            "this run over, or --name NAME to run the new spec beside it."
        )
    return previous


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
        elif a != b and path not in ("name", "search.max_trials", "search.max_minutes", "search.max_failures"):
            changed.append(f"{path}: {a!r} → {b!r}")

    walk(old, new, "")
    return (" (changed: " + "; ".join(changed[:5]) + ")") if changed else ""


def write_run_inputs(run_dir: Path, spec: Spec, data: Dataset) -> None:
    import yaml

    results.write_atomic(run_dir / results.SPEC_COPY, yaml.safe_dump(spec_to_dict(spec), sort_keys=False))
    results.write_json(run_dir / results.PREPROCESSING, {
        **data.preprocessing, "task": data.task, "class_names": data.class_names,
        "input_shape": list(data.input_shape),
    })
