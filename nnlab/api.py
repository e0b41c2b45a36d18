"""nnlab as a library: what the commands do, from Python (a notebook, a script).

    import nnlab
    spec = nnlab.load_spec("configs/mpg-mlp.yaml", overrides=["search.max_trials=2"])
    result = nnlab.run(spec)                        # or a path, or a dict; data=DataFrame for a CSV source
    result.trials, result.best, result.predict(new_rows), result.plot()
    again = nnlab.open("runs/mpg")                  # the same, for a finished run
    print(nnlab.validate(spec).space)
    table = nnlab.compare("runs")                   # a DataFrame

`import nnlab` imports none of this until it is used (see `nnlab/__init__.py`), so it never imports
TensorFlow; `run` and `validate` do, when they build models.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

Overrides = list[str] | tuple[str, ...] | dict[str, Any] | None

# How a message written for the command line says a choice in this API's keywords
_KEYWORDS = [("--overwrite", "overwrite=True"), ("--name NAME", 'name="NAME"'), ("--name", "name="),
             ("--runs-dir", "runs_dir="), ("--set", "overrides=")]


@contextlib.contextmanager
def _python_words():
    """An `NnlabError` raised inside says the keywords of this API, not the command line's flags."""
    from nnlab.errors import NnlabError

    try:
        yield
    except NnlabError as exc:
        if exc.args and isinstance(exc.args[0], str):
            text = exc.args[0]
            for flag, keyword in _KEYWORDS:
                text = re.sub(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", keyword, text)
            exc.args = (text, *exc.args[1:])
        raise


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
        tensorboard: bool = False, track: str | None = None, experiment: str | None = None):
    """Run (or resume) a sweep in this process, as `nnlab run` does; returns the `Run` (see
    `nnlab.tools.notebook`: trials, best, model, predict, evaluate, plot). `spec`: a path, a dict or
    a loaded spec; `data`: a pandas DataFrame in place of a CSV source's file (`data.path` may then be
    left out; the spec copy records its shape and a hash of its content); `name`: the run's name
    (`--name`); `track`, `experiment`: an MLflow tracking server's URI and experiment (`--track`,
    `--experiment`). The process is left as it was found (see `backend.process_kept`)."""
    from nnlab.engine.backend import process_kept
    from nnlab.engine.sweep import run as run_sweep
    from nnlab.runs.tracking import settings
    from nnlab.spec.loader import with_frame, with_name
    from nnlab.tools.notebook import Run

    with _python_words():
        spec = load_spec(spec, overrides)
        if name:
            spec = with_name(spec, name)
        if data is not None:
            spec = with_frame(spec, data)
        tracked = settings(spec, track, experiment)
    with process_kept(), _python_words():
        result = run_sweep(spec, runs_dir, overwrite=overwrite, device=device, quiet=quiet, strategy=strategy,
                           tensorboard=tensorboard, frame=data, track=tracked)
    return Run(result.run_dir)


def open(run_dir):  # noqa: A001 (nnlab.open, as the issue and a notebook read it)
    """A finished (or stopped) run folder, as `run` returns it: trials, best, model, predict, plot."""
    from nnlab.tools.notebook import Run

    return Run(run_dir)


def validate(spec, *, overrides: Overrides = None, data=None, runs_dir: str | Path = "runs"):
    """Check a spec and its data as `nnlab validate` does (no training); returns the description: the
    data, each hyperparameter's range, the number of configurations, the smallest and largest models.
    `runs_dir`: as `run`'s (an image folder's decoded copy is read from or kept there)."""
    from nnlab.tools.validate import describe

    with _python_words():
        return describe(load_spec(spec, overrides), frame=data, runs_dir=Path(runs_dir))


def compare(paths="runs", *, sort: str | None = None, top: int | None = None, reverse: bool = False,
            experiment: str | None = None):
    """Runs side by side (a folder of runs, several run folders, or an MLflow tracking server's URI:
    a team's runs, in `experiment` or all), or the trials of one run, best first, as `nnlab compare`
    shows them; returns a pandas DataFrame, a row per run (or trial), with the hyperparameters as
    columns."""
    import pandas as pd

    from nnlab.runs.compare import compare as compare_runs
    from nnlab.runs.compare import flatten

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    return pd.DataFrame([flatten(row) for row in compare_runs(paths, sort=sort, top=top, reverse=reverse,
                                                                 experiment=experiment).rows])
