"""The `nnlab` command: a thin layer over the Python API.

Each command parses its arguments, calls one library function and prints the result. A user's
mistake (`NnlabError`) is printed as one message with exit code 2, never a traceback. Imports of the
library happen inside the commands, so `nnlab --help` and `nnlab compare` start fast and never import
TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional, Tuple

import typer

from nnlab.spec.names import EXPORT_FORMATS, OUTPUT_FORMATS, words_of

app = typer.Typer(
    help="Hyperparameter experiments with Keras from one YAML spec.\n\n"
         "nnlab run SPEC runs a Keras Tuner sweep; nnlab compare puts runs side by side.",
    no_args_is_help=True, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it through rich imports rich on every call (benchmarks/cli.py)
)


def _print_version(value: bool) -> None:
    if value:
        from nnlab.version import __version__

        typer.echo(f"nnlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print nnlab's version and exit.")) -> None:
    """Hyperparameter experiments with Keras from one YAML spec.

    nnlab run SPEC runs a Keras Tuner sweep; nnlab compare puts runs side by side.
    """


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


Format = Enum("Format", {name: name for name in OUTPUT_FORMATS}, type=str)  # compare --format


def _fail(exc: Exception) -> None:
    from nnlab.errors import cut_lines

    typer.echo(f"error: {cut_lines(str(exc))}", err=True)
    raise typer.Exit(getattr(exc, "exit_code", 2))


@contextlib.contextmanager
def _user_errors():
    """A user's mistake (`NnlabError`) inside: one `error:` line and its exit code, never a traceback."""
    from nnlab.errors import NnlabError, disk_full, disk_full_message

    try:
        yield
    except NnlabError as exc:
        _fail(exc)
    except OSError as exc:  # a path the user gave that cannot be read or written
        if disk_full(exc):
            _fail(NnlabError(disk_full_message(Path(exc.filename).parent if exc.filename else "its files")))
        where = f": {exc.filename}" if exc.filename else ""
        _fail(NnlabError(f"{exc.strerror or exc}{where}"))


class Strategy(str, Enum):
    mirrored = "mirrored"


def _load(spec_file: Path, set_: List[str], name: Optional[str]):
    from nnlab.spec.loader import load_spec, with_name

    spec = load_spec(spec_file, set_)
    return with_name(spec, name) if name else spec


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _confirm_overwrite(spec, runs_dir: Path, yes: bool) -> None:
    """--overwrite deletes completed trials: ask first in a terminal; in a script, want --yes."""
    from nnlab.errors import RunError
    from nnlab.runs.folder import RunFolder

    folder = RunFolder(runs_dir / spec.name)
    run_dir = folder.path
    count = folder.read().completed if folder.is_run() else 0
    if not count or yes:
        return
    trials, them = ("trials", "them") if count != 1 else ("trial", "it")
    what = f"{run_dir} holds {count} completed {trials}; --overwrite deletes {them}"
    if _interactive():
        if typer.confirm(f"{what}. Delete and start over?", default=False):
            return
        raise RunError("not confirmed: nothing was deleted")
    raise RunError(f"{what}. Add --yes to confirm, or give the new run another --name to keep them")


def _resume_command(ctx: typer.Context) -> str:
    """The command line that resumes this run: the one given, without --overwrite and --yes."""
    import shlex

    words, options = ["nnlab", ctx.info_name], []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if isinstance(value, Enum):
            value = value.value
        default = param.default.value if isinstance(param.default, Enum) else param.default
        if param.name in ("overwrite", "yes") or value in (None, False, [], ()) or str(value) == str(default):
            continue
        if param.param_type_name == "argument":
            words.append(str(value))
            continue
        option = max(param.opts, key=len)
        if value is True:
            options.append(option)
        else:
            for one in value if isinstance(value, (list, tuple)) else [value]:
                options += [option, str(one)]
    return shlex.join(words + options)


def _exit(ctx: typer.Context, result) -> None:
    """The run's exit code; after an interrupt, the command that resumes it."""
    if result.exit_code == 130:
        typer.echo(f"to resume: {_resume_command(ctx)}", err=True)
    raise typer.Exit(result.exit_code)


SPEC_ARG = typer.Argument(..., metavar="SPEC", help="The spec file (YAML).")
RUNS_DIR = typer.Option(Path("runs"), "--runs-dir", help="Folder that holds run folders.")
NAME = typer.Option(None, "--name", help="Run name (default: the spec's name).")
SET = typer.Option([], "--set", metavar="KEY=VALUE",
                   help="Override a spec value, e.g. --set search.max_trials=2 (repeatable).")
QUIET = typer.Option(False, "--quiet", "-q", help="Print only warnings and errors.")
OVERWRITE = typer.Option(False, "--overwrite", help="Delete this run's results and start over (asks first when "
                                                    "trials completed; see --yes).")
YES = typer.Option(False, "--yes", "-y", help="With --overwrite: delete completed trials without asking.")


TRACK = typer.Option(None, "--track", metavar="URI", help="Keep an MLflow tracking server up to date with the run: "
                     "http://host:port, sqlite:///file.db or file:folder (default: NNLAB_TRACKING_URI).")
EXPERIMENT = typer.Option(None, "--experiment", metavar="NAME", help="The MLflow experiment (default: the run's name).")


@app.command()
def run(
    ctx: typer.Context,
    spec_file: Path = SPEC_ARG,
    runs_dir: Path = RUNS_DIR,
    name: Optional[str] = NAME,
    set_: List[str] = SET,
    device: Device = typer.Option(Device.auto, "--device", help="Where to train."),
    overwrite: bool = OVERWRITE,
    yes: bool = YES,
    quiet: bool = QUIET,
    workers: int = typer.Option(0, "--workers", min=0, help="Train N trials at once, in N worker processes."),
    gpus: Optional[str] = typer.Option(None, "--gpus", metavar="0,1",
                                       help="Workers on these GPUs: numbers as this process sees them (within an "
                                            "inherited CUDA_VISIBLE_DEVICES), or GPU-/MIG- names; see --per-gpu."),
    per_gpu: int = typer.Option(1, "--per-gpu", min=1, help="Workers per GPU with --gpus and without --workers "
                                                            "(they share it)."),
    gpu_memory: Optional[int] = typer.Option(None, "--gpu-memory", metavar="MB", min=1,
                                             help="Cap each process's memory on each GPU at MB (instead of "
                                                  "growing as trials need it); for workers sharing a GPU."),
    strategy: Optional[Strategy] = typer.Option(None, "--strategy",
                                                help="mirrored: train each trial on all visible GPUs."),
    tensorboard: bool = typer.Option(False, "--tensorboard", help="Per-trial TensorBoard logs with the HParams "
                                                                  "dashboard, in RUN/tensorboard/."),
    track: Optional[str] = TRACK,
    experiment: Optional[str] = EXPERIMENT,
    track_model: bool = typer.Option(False, "--track-model", help="With --track: send best.keras too."),
) -> None:
    """Run a sweep (or resume it: completed trials are kept).

    Exit codes: 0 when at least one trial completed; 1 when none did (the reasons are in `trials.csv`); 2 for a
    mistake in the spec, the data or the run folder (one message, no traceback, nothing changed), a spec past a
    limit, and a disk that fills during the sweep (what was saved is kept; the same command resumes); 130 when
    interrupted with Ctrl-C or SIGTERM (completed trials are saved, and the last line, `to resume: nnlab run …`,
    is the command that resumes: the one given, without `--overwrite`).
    """
    _gpu_memory(gpu_memory)
    with _user_errors():
        from nnlab.runs.tracking import settings

        spec = _load(spec_file, set_, name)
        tracked = settings(spec, track, experiment, track_model)  # (MLflow missing: said now, before training)
        if overwrite:
            _confirm_overwrite(spec, runs_dir, yes)
        strategy_name = strategy.value if strategy else None
        if workers or gpus:
            from nnlab.distributed.gpus import parse_gpus
            from nnlab.distributed.workers import run_parallel

            result = run_parallel(spec, runs_dir, workers=workers, gpus=parse_gpus(gpus), per_gpu=per_gpu,
                                  device=device.value, overwrite=overwrite, quiet=quiet, spec_file=spec_file,
                                  overrides=set_, strategy=strategy_name, tensorboard=tensorboard, track=tracked)
        else:
            from nnlab.engine.sweep import run as run_sweep

            result = run_sweep(spec, runs_dir, overwrite=overwrite, device=device.value, quiet=quiet,
                               strategy=strategy_name, tensorboard=tensorboard, track=tracked)
    _exit(ctx, result)


def _gpu_memory(megabytes: Optional[int]) -> None:
    """--gpu-memory MB: for this process's device set-up and the local workers it starts (inherited)."""
    if megabytes:
        os.environ["NNLAB_GPU_MEMORY_MB"] = str(megabytes)


@app.command()
def chief(
    ctx: typer.Context,
    spec_file: Path = SPEC_ARG,
    bind: str = typer.Option("127.0.0.1:8000", "--bind", metavar="HOST:PORT",
                             help="Where workers reach the chief. No authentication: keep it inside a private "
                                  "network (0.0.0.0, every interface, needs --any-host)."),
    runs_dir: Path = RUNS_DIR,
    name: Optional[str] = NAME,
    set_: List[str] = SET,
    overwrite: bool = OVERWRITE,
    yes: bool = YES,
    worker_timeout: float = typer.Option(60.0, "--worker-timeout", metavar="MINUTES", min=0,
                                         help="Hand a trial to another worker when its worker has sent "
                                              "nothing for this long (0: wait forever)."),
    any_host: bool = typer.Option(False, "--any-host", help="Allow --bind 0.0.0.0 (every network interface), "
                                  "knowing the chief has no authentication."),
    quiet: bool = QUIET,
    track: Optional[str] = TRACK,
    experiment: Optional[str] = EXPERIMENT,
    track_model: bool = typer.Option(False, "--track-model", help="With --track: send best.keras too."),
) -> None:
    """Serve a sweep's trials to workers (nnlab worker), for sweeps across machines.

    Exit codes: as for `nnlab run` (0, 1, 2, 130).
    """
    with _user_errors():
        from nnlab.distributed.chief import bind_warning, parse_address, serve_chief
        from nnlab.runs.tracking import settings

        host, port = parse_address(bind, "--bind")
        warning = bind_warning(host, any_host)
        if warning:
            typer.echo(f"warning: {warning}", err=True)
        spec = _load(spec_file, set_, name)
        tracked = settings(spec, track, experiment, track_model)  # (MLflow missing: said now, before serving)
        if overwrite:
            _confirm_overwrite(spec, runs_dir, yes)
        result = serve_chief(spec, runs_dir, host=host, port=port, overwrite=overwrite, quiet=quiet,
                             worker_timeout=worker_timeout * 60 or None, track=tracked)
    _exit(ctx, result)


@app.command()
def worker(
    spec_file: Path = SPEC_ARG,
    chief_address: str = typer.Option(..., "--chief", metavar="HOST:PORT", help="The chief's --bind address."),
    worker_id: Optional[str] = typer.Option(None, "--id", metavar="NAME",
                                            help="This worker's name; the same name after a restart gets its "
                                                 "trial back (default: host name and SLURM task or process id)."),
    runs_dir: Path = RUNS_DIR,
    name: Optional[str] = NAME,
    set_: List[str] = SET,
    device: Device = typer.Option(Device.auto, "--device", help="Where to train."),
    strategy: Optional[Strategy] = typer.Option(None, "--strategy",
                                                help="mirrored: train each trial on all visible GPUs."),
    wait: float = typer.Option(600.0, "--wait", metavar="SECONDS", min=0,
                               help="How long to wait for the chief to answer at start."),
    chief_timeout: float = typer.Option(60.0, "--chief-timeout", metavar="SECONDS", min=1,
                                        help="Exit (code 3) when the chief has not answered for this long."),
    gpu_memory: Optional[int] = typer.Option(None, "--gpu-memory", metavar="MB", min=1,
                                             help="Cap each process's memory on each GPU at MB (instead of "
                                                  "growing as trials need it); for workers sharing a GPU."),
    tensorboard: bool = typer.Option(False, "--tensorboard", help="TensorBoard logs of this worker's trials."),
    quiet: bool = QUIET,
) -> None:
    """Train the trials a chief hands out, until the search is over.

    Exit codes: 0 when the chief says the search is over (or, found gone, its run's summary.json says it ended
    the search: a worker that came back late to a restarted chief); 2 for a mistake (the spec, an address or id,
    no chief answering within `--wait`, a run folder of another spec); 3 when the chief stopped answering for
    `--chief-timeout` seconds (its trial is not lost: a chief started again hands it out again; start the worker
    again then); 130 when interrupted (the chief hands its trial to another worker).
    """
    _gpu_memory(gpu_memory)
    with _user_errors():
        from nnlab.distributed.workers import default_worker_id, run_worker

        spec = _load(spec_file, set_, name)
        code = run_worker(spec, runs_dir, chief=chief_address, worker_id=worker_id or default_worker_id(),
                          device=device.value, quiet=quiet, strategy=strategy.value if strategy else None,
                          wait_seconds=wait, tensorboard=tensorboard, chief_timeout=chief_timeout)
    raise typer.Exit(code)


@app.command()
def compare(
    paths: Optional[List[str]] = typer.Argument(None, metavar="[PATH|URI]...",
                                                help="Run folders or folders of runs (default: runs/), or an MLflow "
                                                     "tracking server's URI (its nnlab runs: a team's)."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Show the first N rows."),
    sort: Optional[str] = typer.Option(None, "--sort", help="Sort by this column (scores: best first)."),
    reverse: bool = typer.Option(False, "--reverse", help="Reverse the order."),
    fmt: Format = typer.Option(Format.table, "--format", help="Output format: " + words_of(OUTPUT_FORMATS) + "."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead."),
    experiment: Optional[str] = typer.Option(None, "--experiment", metavar="NAME",
                                             help="With a tracking server's URI: only this experiment's runs."),
    pareto: Optional[str] = typer.Option(None, "--pareto", metavar="params|size|macs|latency",
                                         help="One run's trials: each model's size (and search.latency's time), "
                                              "and the trials on the front of score against this cost (◆)."),
) -> None:
    """Put runs side by side (a folder of runs, or a tracking server's runs), or the trials of one run.

    Exit codes: 0; 2 when a path is missing or holds no run, `--sort` names no column, `--output` cannot be
    written or is a run's file (see What happens when things go wrong), a tracking server cannot be read
    (MLflow not installed, the server down, no such `--experiment`), or `--pareto` is given several runs or
    an unknown cost (or `latency` for a run that timed no trial).
    """
    from nnlab.runs.compare import compare as compare_runs
    from nnlab.runs.compare import render
    with _user_errors():
        if output:
            from nnlab.runs.outputs import check_output

            check_output(output, inputs=[Path(p) for p in paths or ()])
        comparison = compare_runs(paths or None, sort=sort, top=top, reverse=reverse, experiment=experiment,
                                  pareto=pareto)
    for note in comparison.notes:
        typer.echo(f"warning: {note}", err=True)
    text = render(comparison, fmt.value)
    if output:
        from nnlab.errors import plural
        from nnlab.runs.files import write_atomic

        with _user_errors():
            write_atomic(output, text)
        typer.echo(f"wrote {plural(len(comparison.rows), 'row')} to {output}")
    else:
        sys.stdout.write(text)


@app.command()
def validate(
    spec_file: Path = typer.Argument(..., metavar="SPEC", help="The spec file (YAML)."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a spec value."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir",
                                  help="The runs folder `nnlab run` will use: an image folder's decoded copy is "
                                       "read from or kept in its .decoded/."),
) -> None:
    """Check a spec and its data, and show the search space. No training.

    Exit codes: 0 when the spec and its data are valid; 2 otherwise, with the problem.
    """
    from nnlab.runs.fmt import fmt_value
    from nnlab.spec.loader import load_spec
    from nnlab.tools.validate import describe

    with _user_errors():
        spec = load_spec(spec_file, set_)
        info = describe(spec, runs_dir=runs_dir)
    for note in info.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"spec {spec_file} is valid: run name {spec.name!r}")
    typer.echo(f"data: {info.data}")
    typer.echo("search space:" if info.space else "search space: nothing to search (every value is fixed)")
    for name, text in info.space.items():
        typer.echo(f"  {name:<16} {text}")
    configs = ("unbounded (a float range without step)" if info.configurations == float("inf")
               else f"{info.configurations:,}")
    typer.echo(f"configurations: {configs}")
    for base, count, size in info.bases:
        typer.echo(f"base {base}: {count:,} parameters (without its top), input {size}")
    for label, (count, params) in (("smallest", info.smallest), ("largest", info.largest)):
        shown = ", ".join(f"{k}={fmt_value(v)}" for k, v in params.items() if k in info.space or k == "units")
        typer.echo(f"{label} model: {count:,} parameters ({shown})")


@app.command()
def doctor() -> None:
    """Show what this machine offers: TensorFlow and its build, the NVIDIA GPUs, what TensorFlow sees.

    Exit codes: 0.
    """
    from nnlab.tools.doctor import report

    facts, reasons, sees_gpu = report()
    for name, value in facts:
        typer.echo(f"{name + ':':<22}{value}")
    if not sees_gpu:
        typer.echo("TensorFlow sees no GPU: nnlab trains on the CPU." + (" TensorFlow says:" if reasons else ""))
        for line in reasons[:8]:
            typer.echo(f"  {line}")
        typer.echo("For GPUs: Linux x86-64 or WSL2, an NVIDIA driver that supports CUDA 12, and "
                   "`pip install -e '.[gpu]'` (docs/gpus.md).")


@app.command()
def plot(
    run_dir: Path = typer.Argument(..., metavar="RUN", help="A run folder, e.g. runs/NAME."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Folder for the PNGs (default RUN/plots)."),
) -> None:
    """Draw a run's learning curves, objective against each hyperparameter, parallel coordinates and
    hyperparameter importance, as PNG files.

    Exit codes: 0; 2 when RUN is not a run folder, is damaged or has no completed trial, or `--output` is one of
    a run's files or folders (other than RUN/plots).
    """
    from nnlab.tools.plots import plot_run

    with _user_errors():
        paths = plot_run(run_dir, output)
    for path in paths:
        typer.echo(f"wrote {path}")


@app.command()
def report(
    run_dir: Path = typer.Argument(..., metavar="RUN", help="A run folder, e.g. runs/NAME."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The HTML file (default RUN/report.html)."),
) -> None:
    """One self-contained HTML file: summary, trials, pictures, the best model and its validation metrics.

    Exit codes: 0; 2 when RUN is not a run folder, is damaged or has no completed trial, or `--output` is one of
    a run's files (other than RUN/report.html).
    """
    with _user_errors():
        from nnlab.tools.report import build_report

        path = build_report(run_dir, output)
    typer.echo(f"wrote {path}")


PICK = typer.Option(None, "--pick", metavar="RULE MARGIN", help="Instead of the best: smallest-within (fewest "
                   "parameters) or fastest-within (search.latency) among the trials whose score is within MARGIN of "
                   "the best's: 0.01 absolute, in the objective's units, or 1% relative.")


def _picked(run_dir: Path, pick: Optional[tuple], trial: Optional[str]):
    """The `Pick` that `--pick` makes (said on stderr), or None without it."""
    if not pick:
        return None
    from nnlab.errors import RunError
    from nnlab.runs.pick import pick as pick_trial

    if trial:
        raise RunError("give --trial or --pick, not both")
    chosen = pick_trial(run_dir, *pick)
    typer.echo(f"pick: {chosen.describe()}", err=True)
    return chosen


def _model_trial(run_dir: Path, pick: Optional[tuple], trial: Optional[str]) -> Optional[str]:
    """The trial whose model a command uses: --trial, --pick's (None when it picks the best: the run's own
    model), or None (the run's model)."""
    chosen = _picked(run_dir, pick, trial)
    return trial if chosen is None else None if chosen.is_best else chosen.trial_id


@app.command()
def retrain(
    run_dir: Path = typer.Argument(..., metavar="RUN", help="A run folder, e.g. runs/NAME."),
    top: int = typer.Option(3, "--top", min=1, help="How many of the best configurations."),
    seeds: int = typer.Option(3, "--seeds", min=1, help="Trainings per configuration, each with another seed."),
    device: Device = typer.Option(Device.auto, "--device", help="Where to train."),
    pick: Optional[Tuple[str, str]] = PICK,
    quiet: bool = QUIET,
) -> None:
    """Train the best configurations again with other seeds: mean ± std, a real winner or a lucky one.
    With `--pick`, the picked trial and the best, so the margin between them is measured again.

    Exit codes: 0; 2 when RUN is not a run folder or has no completed trial, or `--pick` as for `export`; 130
    when interrupted (nothing is written).
    """
    from nnlab.progress import Reporter
    from nnlab.tools.retrain import retrain as retrain_run

    try:
        with _user_errors():
            chosen = _picked(run_dir, pick, None)
            trials = list(dict.fromkeys([chosen.best.trial_id, chosen.trial_id])) if chosen else None
            retrain_run(run_dir, top, seeds, device.value, Reporter(quiet=quiet), trials=trials)
    except KeyboardInterrupt:
        typer.echo("interrupted: nothing was written", err=True)
        raise typer.Exit(130) from None


ExportFormat = Enum("ExportFormat", {name: name for name in EXPORT_FORMATS}, type=str)


RUN_ARG = typer.Argument(..., metavar="RUN", help="A run folder, e.g. runs/NAME.")
THRESHOLD = typer.Option(None, "--threshold", metavar="RULE", help="Two classes: the positive class from this "
                         "probability up: a number (0.3), f1 or costs (fp=1,fn=5), the last two chosen on the run's "
                         "validation rows (default: the spec's data.threshold, else 0.5).")


@app.command()
def export(
    run_dir: Path = RUN_ARG,
    output: Path = typer.Option(..., "--output", "-o", help="model.keras, model.onnx, model.tflite, a new "
                                                            "model.mlpackage, or a new folder for a SavedModel."),
    trial: Optional[str] = typer.Option(None, "--trial", metavar="ID", help="This trial's model (default: the best)."),
    pick: Optional[Tuple[str, str]] = PICK,
    fmt: Optional[ExportFormat] = typer.Option(None, "--format", help=words_of(EXPORT_FORMATS) + " (default: "
                                               "the one --output's suffix names; no suffix: savedmodel)."),
    raw_inputs: bool = typer.Option(False, "--raw-inputs", help="A table run: the model takes the CSV's own "
                                    "columns by name, with the preprocessing inside it (stock Keras layers)."),
) -> None:
    """Save a run's model (the best, or --trial ID) as .keras, SavedModel, ONNX, LiteRT or Core ML.

    Exit codes: 0; 2 when RUN is not a finished run, its model file cannot be loaded (damaged, or holding a
    `Lambda` layer: see Model files), `--trial` is unknown or its weights were not kept, `--pick` is malformed
    or the run has no cost to pick by, `--output` has the
    wrong suffix, is a run's file, or already exists (a SavedModel or Core ML folder), the format's packages are
    missing, the converter cannot take the model, or the written file does not load with its runtime or does not
    predict what the model does (each with its reason); 130 when interrupted (nothing is written).
    """
    with _user_errors():
        from nnlab.runs.outputs import check_output
        from nnlab.tools.apply import interim_note, load_model, open_run
        from nnlab.tools.export import export as export_model
        from nnlab.tools.export import format_for, with_raw_inputs

        check_output(output)
        fmt_name = fmt.value if fmt else format_for(output)
        trial = _model_trial(run_dir, pick, trial)
        finished = open_run(run_dir)
        model = load_model(finished, trial)
        if raw_inputs:
            model = with_raw_inputs(model, finished.preparation, fmt_name)
        try:
            path = export_model(model, output, fmt_name, finished.preparation)
        except KeyboardInterrupt:
            typer.echo(f"interrupted: nothing was written to {output}", err=True)
            raise typer.Exit(130) from None
    summary = finished.summary
    for note in [note for note in [interim_note(finished, trial)] if note]:
        typer.echo(f"note: {note}", err=True)
    if trial:
        which = f"the model of trial {trial}"
    elif summary.ensemble:
        which = f"the ensemble of trials {', '.join(summary.ensemble['trials'])} (search.ensemble)"
    elif summary.refit:
        which = f"the best configuration (trial {summary.refit['trial']}) refitted on every training row"
    else:
        which = f"the model of the best trial ({summary.best_model_trial})"
    typer.echo(f"wrote {which} to {path} ({fmt_name}{', raw inputs' if raw_inputs else ''})")
    if raw_inputs:
        from nnlab.engine.tabular.rawinputs import input_kinds

        kinds = input_kinds(finished.preparation.table.columns)
        typer.echo("its inputs, one value per row (a dict of arrays, keyed by name): "
                   + ", ".join(f"{name} ({kind})" for name, kind in kinds.items()))


@app.command()
def predict(
    run_dir: Path = RUN_ARG,
    data: Path = typer.Argument(..., metavar="DATA", help="A CSV (the target column may be missing), an image "
                                                           "folder or one image, a CSV listing image files, or an "
                                                           ".npz with x."),
    output: Path = typer.Option(Path("predictions.csv"), "--output", "-o", help="Where the predictions go."),
    proba: bool = typer.Option(False, "--proba", help="Add one probability column per class."),
    trial: Optional[str] = typer.Option(None, "--trial", metavar="ID", help="This trial's model (default: the best)."),
    threshold: Optional[str] = THRESHOLD,
) -> None:
    """Predict new data with a run's model and its own preprocessing: one row per input, in order.

    Exit codes: 0; 2 when RUN is not a finished run (no `best.keras`, an unknown `--trial`), the data does not
    fit the run (missing columns, another kind of data, nothing decodable), `--proba` on a regression run, or
    `--output` cannot be written, is a run's file or is DATA itself.
    """
    with _user_errors():
        from nnlab.errors import RunError
        from nnlab.runs.files import write_atomic
        from nnlab.runs.outputs import check_output
        from nnlab.tools.apply import interim_note, load_model, open_run, predict_targets, predictions_csv
        from nnlab.tools.evaluation import RunModel
        from nnlab.tools.inputs import read_inputs

        check_output(output, inputs=[data])
        finished = open_run(run_dir)
        if proba and all(t.task == "regression" for t in finished.preparation.outputs()):
            raise RunError(f"--proba adds class probabilities, but {finished.folder.name} is a regression run: "
                           "its predictions are values; leave out --proba")
        inputs = read_inputs(data, finished.preparation, labelled=False)
        model = load_model(finished, trial)
        inputs.notes += [note for note in [interim_note(finished, trial)] if note]
        in_use = RunModel(finished, model).threshold(threshold)
        if in_use is not None:
            inputs.notes.append(f"{finished.preparation.class_names[1]!r} where its probability is at least "
                                f"{in_use.describe()}")
        predicted = predict_targets(model, inputs, finished.preparation, in_use.value if in_use else None)
        write_atomic(output, predictions_csv(inputs, predicted, proba))
    for note in inputs.notes:
        typer.echo(f"note: {note}", err=True)
    rows = len(inputs.ids)
    typer.echo(f"wrote {rows} prediction{'s' if rows != 1 else ''} to {output}")


@app.command()
def evaluate(
    run_dir: Path = RUN_ARG,
    data: Path = typer.Argument(..., metavar="DATA", help="Labelled data: a CSV with the target column, an image "
                                                           "folder with class subfolders, a CSV listing image files "
                                                           "and their classes, or an .npz with x and y."),
    trial: Optional[str] = typer.Option(None, "--trial", metavar="ID", help="This trial's model (default: the best)."),
    pick: Optional[Tuple[str, str]] = PICK,
    label: Optional[str] = typer.Option(None, "--label", metavar="COLUMN",
                                        help="In a CSV listing image files: the column of classes (default: the "
                                             "one whose every value is a class)."),
    threshold: Optional[str] = THRESHOLD,
    cost: Optional[str] = typer.Option(None, "--cost", metavar="fp=A,fn=B", help="Two classes: also choose the "
                                       "threshold with the lowest cost on the run's validation rows (default: the "
                                       "highest F1), e.g. fp=1,fn=5."),
    by: Optional[str] = typer.Option(None, "--by", metavar="COLUMN", help="A table: the metrics per value of this "
                                     "column of DATA (per quantile bin of a column of numbers), with row counts."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """A run's model on a labelled test set: accuracy, macro F1, per-class report, confusion matrix;
    or RMSE, MAE, R² and the share within 10%. Two classes: precision, recall and F1 at the threshold in use,
    the precision–recall curve, and the threshold chosen on the run's validation rows (highest F1, or lowest
    `--cost`) with what it gives on DATA; `--by COLUMN`: the metrics per group of rows.

    Exit codes: 0; 2 as for `predict`, and when the data has no labels or labels the run never saw, a listed
    image is missing or broken, the labels' column is unknown or cannot be told apart, `--by` names no column
    of DATA, `--cost`/`--threshold` is malformed or the target has not two classes, or `--pick` as for `export`.
    """
    with _user_errors():
        from nnlab.scores import metrics_text
        from nnlab.tools.apply import interim_note, load_model, open_run
        from nnlab.tools.evaluation import RunModel, evaluate_run, evaluation_text
        from nnlab.tools.inputs import read_inputs

        trial = _model_trial(run_dir, pick, trial)
        finished = open_run(run_dir)
        inputs = read_inputs(data, finished.preparation, labelled=True, label=label)
        model = load_model(finished, trial)
        inputs.notes += [note for note in [interim_note(finished, trial)] if note]
        result = evaluate_run(RunModel(finished, model), inputs, threshold, cost, by, inputs.notes)
    for note in inputs.notes:
        typer.echo(f"note: {note}", err=True)
    if as_json:
        import json

        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        sys.stdout.write(metrics_text(result) + evaluation_text(result))


@app.command()
def explain(
    run_dir: Path = RUN_ARG,
    data: Optional[Path] = typer.Argument(None, metavar="[DATA]", show_default=False,
                                          help="A table run: labelled rows (default: the run's validation rows). An "
                                               "image run: an image, a folder or a CSV listing images (default: the "
                                               "first validation images)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The folder for the pictures and "
                                                                       "explain.json (default RUN/explain/)."),
    feature: List[str] = typer.Option([], "--feature", metavar="COLUMN", help="A table run: also show how the "
                                      "prediction moves with this column (repeatable)."),
    top: int = typer.Option(3, "--top", min=0, help="A table run: partial dependence of this many top columns."),
    repeats: int = typer.Option(5, "--repeats", min=1, help="A table run: permutations per column."),
    images: int = typer.Option(16, "--images", min=1, help="An image run: heat maps of at most this many images."),
    trial: Optional[str] = typer.Option(None, "--trial", metavar="ID", help="This trial's model (default: the best)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was found as JSON (explain.json)."),
) -> None:
    """Which inputs a run's model leans on and how its prediction moves with them (permutation importance,
    partial dependence); for a CNN, what it looks at (Grad-CAM heat maps) and which classes it confuses.

    Exit codes: 0; 2 when RUN is not a finished run, DATA does not fit the run (or, for a table, has no target
    column), `--feature` names no input column or a date, the model has no feature map for Grad-CAM, or
    `--output` is a run's file; 130 when interrupted.
    """
    from nnlab.tools.explainrun import explain_run

    try:
        with _user_errors():
            found = explain_run(run_dir, data, output, feature, repeats, top, images, trial,
                                say=lambda line: typer.echo(line, err=True))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    for note in found.notes:
        typer.echo(f"note: {note}", err=True)
    if as_json:
        sys.stdout.write((found.output / "explain.json").read_text(encoding="utf-8"))
        return
    from nnlab.tools.explainrun import explained_text

    sys.stdout.write(explained_text(found))


@app.command()
def track(
    paths: List[Path] = typer.Argument(..., metavar="RUN...", help="Run folders, or folders of runs (runs/)."),
    to: Optional[str] = typer.Option(None, "--to", metavar="URI", help="The MLflow tracking server: http://host:port, "
                                     "sqlite:///file.db or file:folder (default: NNLAB_TRACKING_URI)."),
    experiment: Optional[str] = EXPERIMENT,
    model: bool = typer.Option(False, "--model", help="Send best.keras too."),
) -> None:
    """Send finished (or stopped) runs to an MLflow tracking server: a laptop's runs to the team's server the
    next day. What the server has already is not sent again.

    Exit codes: 0; 2 when a path is not a run folder nor holds one, no URI is given, MLflow is not installed
    (`pip install 'nnlab[track]'`), or the server cannot be reached or refuses (what reached it stays).
    """
    with _user_errors():
        from nnlab.errors import RunError
        from nnlab.runs.tracking import client, runs_in, sync, tracking_uri

        uri = tracking_uri(to)
        if not uri:
            raise RunError("give the tracking server with --to URI (or NNLAB_TRACKING_URI), e.g. --to "
                           "http://127.0.0.1:5000 or --to sqlite:///mlflow.db")
        found = runs_in(paths)  # (a wrong path is said before MLflow is even imported)
        mlflow = client(uri)
        for run_dir in found:
            try:
                synced = sync(run_dir, uri, experiment, model, mlflow=mlflow)
            except RunError:
                raise
            except Exception as exc:  # noqa: BLE001 (the server's own errors, said for people)
                raise RunError(f"{uri} could not take {run_dir} ({type(exc).__name__}: {str(exc)[:300]}); what "
                               "reached it stays, and the same command sends the rest") from None
            typer.echo(f"{run_dir}: {synced.trials} trial(s) sent to {synced.said(uri)}"
                       + ("" if synced.ended else " (the run has not ended: its running trials go when they end)"))


class Kind(str, Enum):
    mlp = "mlp"
    cnn = "cnn"


class Task(str, Enum):
    classification = "classification"
    regression = "regression"


@app.command()
def init(
    data: Optional[Path] = typer.Argument(None, metavar="DATA", show_default=False,
                                          help="A CSV, a folder of class subfolders of images, or an .npz."),
    data_option: Optional[Path] = typer.Option(None, "--data", metavar="PATH",
                                               help="The same as DATA (either form)."),
    target: Optional[List[str]] = typer.Option(None, "--target", metavar="COLUMN",
                                               help="The CSV column to predict (default: the last); several "
                                                    "targets: --target a --target b, or --target a,b."),
    kind: Optional[Kind] = typer.Option(None, "--kind", help="Model kind (default: cnn for images, mlp else)."),
    task: Optional[Task] = typer.Option(None, "--task", help="What a CSV's target means (default: inferred, with "
                                                            "small skewed counts read as a count regression)."),
    output: Path = typer.Option(Path("spec.yaml"), "--output", "-o", help="Where to write the spec."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file at --output."),
) -> None:
    """Look at a data file or folder and write a commented starting spec, ready to run.

    Exit codes: 0 when the spec is written; 2 when no data is given, the data cannot be read or has no plausible
    target, the target holds one value in every row, or `--output` exists (without `--force`), cannot be
    written, is a run's file or is the data itself.
    """
    with _user_errors():
        from nnlab.errors import NnlabError
        from nnlab.runs.files import write_atomic
        from nnlab.tools.starter import starter_spec

        if data is not None and data_option is not None and data != data_option:
            raise NnlabError(f"two data paths given ({data} and --data {data_option}): give one")
        data = data or data_option
        if data is None:
            raise NnlabError("which data? `nnlab init DATA`, e.g. `nnlab init train.csv --target price`")
        from nnlab.runs.outputs import check_output

        check_output(output, inputs=[data])
        if output.exists() and not force:
            raise NnlabError(f"{output} exists; choose another --output, or --force to replace it")
        text, found = starter_spec(data, output, target, kind.value if kind else None,
                                   task=task.value if task else None)
        write_atomic(output, text)
    for line in found.comments:
        typer.echo(f"  {line}")
    typer.echo(f"wrote {output}: check it, then `nnlab validate {output}` and `nnlab run {output}`")


@app.command()
def schema(
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead."),
) -> None:
    """Print the spec's JSON Schema (for an editor's YAML completion and checking).

    Exit codes: 0; 2 when `--output` cannot be written or is a run's file.
    """
    import json

    from nnlab.spec.schema import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if output:
        from nnlab.runs.files import write_atomic
        from nnlab.runs.outputs import check_output

        with _user_errors():
            check_output(output)
            write_atomic(output, text)
        typer.echo(f"wrote the spec's JSON Schema to {output}")
    else:
        sys.stdout.write(text)


def main() -> None:
    app()
