"""The `nnlab` command: a thin layer over the Python API.

Each command parses its arguments, calls one library function and prints the result. A user's
mistake (`NnlabError`) is printed as one message with exit code 2, never a traceback. Imports of the
library happen inside the commands, so `nnlab --help` and `nnlab compare` start fast and never import
TensorFlow.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    help="Hyperparameter experiments with Keras from one YAML spec.\n\n"
         "nnlab run SPEC runs a Keras Tuner sweep; nnlab compare puts runs side by side.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it through rich costs ~0.1 s of imports per call
)


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


class Format(str, Enum):
    table = "table"
    csv = "csv"
    markdown = "markdown"
    json = "json"


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(getattr(exc, "exit_code", 2))


@app.command()
def run(
    spec_file: Path = typer.Argument(..., metavar="SPEC", help="The spec file (YAML)."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="Folder that holds run folders."),
    name: Optional[str] = typer.Option(None, "--name", help="Run name (default: the spec's name)."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="Override a spec value, e.g. --set search.max_trials=2 (repeatable)."),
    device: Device = typer.Option(Device.auto, "--device", help="Where to train."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Delete this run's results and start over."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only warnings and errors."),
) -> None:
    """Run a sweep (or resume it: completed trials are kept)."""
    from .errors import NnlabError
    from .specfile import load_spec, with_name
    from .sweep import run as run_sweep

    try:
        spec = load_spec(spec_file, set_)
        if name:
            spec = with_name(spec, name)
        result = run_sweep(spec, runs_dir, overwrite=overwrite, device=device.value, quiet=quiet)
    except NnlabError as exc:
        _fail(exc)
    raise typer.Exit(result.exit_code)


@app.command()
def compare(
    paths: Optional[List[Path]] = typer.Argument(None, metavar="[PATH]...",
                                                 help="Run folders or folders of runs (default: runs/)."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Show the first N rows."),
    sort: Optional[str] = typer.Option(None, "--sort", help="Sort by this column (scores: best first)."),
    reverse: bool = typer.Option(False, "--reverse", help="Reverse the order."),
    fmt: Format = typer.Option(Format.table, "--format", help="Output format."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead."),
) -> None:
    """Put runs side by side (a folder of runs), or the trials of one run."""
    from .compare import compare as compare_runs
    from .compare import render
    from .errors import NnlabError

    try:
        comparison = compare_runs(paths or None, sort=sort, top=top, reverse=reverse)
    except NnlabError as exc:
        _fail(exc)
    text = render(comparison, fmt.value)
    if output:
        from .results import write_atomic

        write_atomic(output, text)
        typer.echo(f"wrote {len(comparison.rows)} rows to {output}")
    else:
        sys.stdout.write(text)


@app.command()
def validate(
    spec_file: Path = typer.Argument(..., metavar="SPEC", help="The spec file (YAML)."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a spec value."),
) -> None:
    """Check a spec and its data, and show the search space. No training."""
    from .errors import NnlabError
    from .progress import fmt_value
    from .specfile import load_spec
    from .validate import describe

    try:
        spec = load_spec(spec_file, set_)
        info = describe(spec)
    except NnlabError as exc:
        _fail(exc)
    for note in info.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"spec {spec_file} is valid: run name {spec.name!r}")
    typer.echo(f"data: {info.data}")
    typer.echo("search space:" if info.space else "search space: nothing to search (every value is fixed)")
    for name, text in info.space.items():
        typer.echo(f"  {name:<16} {text}")
    configs = "unbounded (a float range without step)" if info.configurations == float("inf") else f"{info.configurations:,}"
    typer.echo(f"configurations: {configs}")
    for label, (count, params) in (("smallest", info.smallest), ("largest", info.largest)):
        shown = ", ".join(f"{k}={fmt_value(v)}" for k, v in params.items() if k in info.space or k == "units")
        typer.echo(f"{label} model: {count:,} parameters ({shown})")


def main() -> None:
    app()
