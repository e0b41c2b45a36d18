"""nnlab as a library: what the commands do, from Python (a notebook, a script).

    import nnlab
    spec = nnlab.load_spec("configs/mpg-mlp.yaml", overrides=["search.max_trials=2"])
    result = nnlab.run(spec)                        # or a path, or a dict; data=DataFrame for a CSV source
    print(nnlab.validate(spec).space)
    table = nnlab.compare("runs")

`import nnlab` imports none of this until it is used (see `nnlab/__init__.py`), so it never imports
TensorFlow; `run` and `validate` do, when they build models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

Overrides = list[str] | tuple[str, ...] | dict[str, Any] | None


def load_spec(spec, overrides: Overrides = None):
    """A validated spec from a file path, a dict (what a spec file holds; relative data paths are
    relative to the current folder) or a spec already loaded. `overrides`: dotted keys, as `--set`
    takes them (`["search.max_trials=2"]`) or as a dict (`{"search.max_trials": 2}`)."""
    from nnlab.spec.loader import load_spec as from_file
    from nnlab.spec.loader import spec_from_dict, spec_to_dict
    from nnlab.spec.schema import Spec

    overrides = overrides or ()
    if isinstance(spec, Spec):
        return spec_from_dict(spec_to_dict(spec), overrides) if overrides else spec
    if isinstance(spec, dict):
        return spec_from_dict(spec, overrides)
    return from_file(Path(spec), overrides)


def run(spec, *, runs_dir: str | Path = "runs", overrides: Overrides = None, data=None, name: str | None = None,
        quiet: bool = False, device: str = "auto", overwrite: bool = False, strategy: str | None = None,
        tensorboard: bool = False):
    """Run (or resume) a sweep in this process, as `nnlab run` does; returns its `RunResult` (the run
    folder, the summary, one `TrialRecord` per trial). `spec`: a path, a dict or a loaded spec;
    `data`: a pandas DataFrame in place of a CSV source's file (`data.path` may then be left out);
    `name`: the run's name (`--name`)."""
    from nnlab.engine.sweep import run as run_sweep
    from nnlab.spec.loader import with_name

    spec = load_spec(spec, overrides)
    if name:
        spec = with_name(spec, name)
    return run_sweep(spec, runs_dir, overwrite=overwrite, device=device, quiet=quiet, strategy=strategy,
                     tensorboard=tensorboard, frame=data)


def validate(spec, *, overrides: Overrides = None, data=None):
    """Check a spec and its data as `nnlab validate` does (no training); returns the description: the
    data, each hyperparameter's range, the number of configurations, the smallest and largest models."""
    from nnlab.tools.validate import describe

    return describe(load_spec(spec, overrides), frame=data)


def compare(paths="runs", *, sort: str | None = None, top: int | None = None, reverse: bool = False):
    """Runs side by side (a folder of runs, or several run folders), or the trials of one run, best
    first, as `nnlab compare` shows them; returns the rows."""
    from nnlab.runs.compare import compare as compare_runs

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    return compare_runs(paths, sort=sort, top=top, reverse=reverse)
