"""Putting runs side by side: run folders → rows → a table, CSV, Markdown or JSON.

`compare(paths)` reads run folders (plain `summary.json` and `trials.csv`, with `json` and `csv`,
never TensorFlow) and returns rows: one per run for a folder of runs or several runs, one per trial
for a single run. `trials.csv` is the truth for counts and the best trial, so the table agrees with
it even if a summary lags behind. A damaged run gives a row that says so; the others still show.
`render` turns rows into text in any of the four formats.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from nnlab.errors import NnlabError, did_you_mean
from nnlab.runs import files
from nnlab.runs.fmt import fmt_duration
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import Summary, TrialRecord, is_number, run_status
from nnlab.spec.names import OUTPUT_FORMATS

FORMATS = tuple(OUTPUT_FORMATS)
PLAIN_TABLE_ROWS = 200  # longer tables are drawn as plain aligned text (rich is slow on thousands of cells)
RUN_FIELDS = ["run", "status", "model", "data", "tuner", "objective", "direction", "best_score", "trials",
              "completed", "pruned", "failed", "best_trial", "best_hyperparameters", "seconds", "size_mb"]
TRIAL_FIELDS = ["run", "trial_id", "status", "score", "objective", "direction", "hyperparameters", "metrics",
                "epochs", "seconds", "worker", "reason"]


@dataclass
class Comparison:
    level: str  # "runs" or "trials"
    rows: list[dict]
    notes: list[str] = field(default_factory=list)  # e.g. that a single run shown is damaged


def find_runs(paths: list[Path]) -> list[Path]:
    """Run folders among `paths`: each is a run folder or a folder of them."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise NnlabError(f"No such folder: {path}")
        if files.is_run_dir(path):
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir()
                            if p.is_dir() and not p.name.startswith(".") and files.is_run_dir(p))
        else:
            raise NnlabError(f"{path} is not a run folder or a folder of runs")
    if not found:
        where = ", ".join(str(p) for p in paths)
        raise NnlabError(f"No runs found in {where}; a run folder holds summary.json and trials.csv "
                         "(made by `nnlab run SPEC`)")
    return found


def run_row(run_dir: Path) -> dict:
    contents = RunFolder(run_dir).read()
    summary, records, best = contents.summary, contents.records, contents.best
    status = run_status(summary.status, contents.completed)
    if contents.problems:
        status = "damaged: " + "; ".join(contents.problems)
    row = {
        "run": summary.run, "status": status, "model": summary.model, "data": summary.data, "tuner": summary.tuner,
        "objective": summary.objective, "direction": summary.direction,
        "best_score": best.score if best else None, "trials": len(records), "completed": contents.completed,
        "failed": sum(r.status == "failed" for r in records),
        "pruned": sum(r.status == "pruned" for r in records), "best_trial": best.trial_id if best else None,
        "best_hyperparameters": best.hyperparameters if best else {},
        "seconds": summary.seconds, "size_mb": round(files.folder_size(run_dir) / 1e6, 2),
    }
    if (summary.baseline or {}).get("score") is not None:  # (search.baseline)
        row["baseline_score"] = summary.baseline["score"]
    if (summary.expected_score or {}).get("value") is not None:  # (data.test_split: best.keras on unseen rows)
        row["expected_score"] = summary.expected_score["value"]
    return row


def trial_rows(run_dir: Path, notes: list[str] | None = None) -> list[dict]:
    """One row per trial; what is damaged in the folder goes to `notes`."""
    contents = RunFolder(run_dir).read()
    summary = contents.summary
    if contents.problems and notes is not None:
        notes.append(f"{run_dir} is damaged: {'; '.join(contents.problems)}; `nnlab run` on its spec repairs what "
                     "it can")
    rows = [trial_row(summary, r) for r in contents.records]
    return rows + ([baseline_row(summary)] if summary.baseline and summary.baseline.get("score") is not None else [])


def trial_row(summary: Summary, record: TrialRecord) -> dict:
    """A trial as every table of trials shows it (compare, `nnlab.compare`, a notebook's `Run.trials`):
    the hyperparameters and metrics nested (`flatten` makes them columns)."""
    return {"run": summary.run, "trial_id": record.trial_id, "status": record.status, "score": record.score,
            "objective": summary.objective, "direction": summary.direction,
            "hyperparameters": record.hyperparameters, "metrics": record.metrics, "best_epoch": record.best_epoch,
            "epochs": record.epochs, "seconds": record.seconds, "worker": record.worker, "reason": record.reason}


def compare(paths: list[str | Path] | None = None, *, sort: str | None = None, top: int | None = None,
            reverse: bool = False, experiment: str | None = None, pareto: str | None = None) -> Comparison:
    """Rows for the runs under `paths` (default `runs/`), sorted (best first by default). A path may be an
    MLflow tracking server's URI (`runs.trackedruns`): its nnlab runs (in `experiment`, or all) are rows.
    `pareto` (params, size, macs, latency; one run's trials): each trial's size and the front (`runs.tradeoff`)."""
    from nnlab.runs.trackedruns import is_uri, run_rows

    uris = [str(p) for p in (paths or []) if is_uri(str(p))]
    paths = [Path(p) for p in (paths or ([] if uris else ["runs"])) if not is_uri(str(p))]
    run_dirs = find_runs(paths) if paths else []
    if len(paths) == 1 and not uris and files.is_run_dir(paths[0]):  # one run: its trials
        notes: list[str] = []
        comparison = Comparison("trials", trial_rows(run_dirs[0], notes), notes)
        default = "score"
        if pareto is not None:
            from nnlab.runs.tradeoff import mark

            mark(comparison.rows, run_dirs[0], pareto)
    else:
        if pareto is not None:
            raise NnlabError(f"--pareto {pareto}: the trade-off is between one run's trials; give one run folder")
        comparison = Comparison("runs", [run_row(d) for d in run_dirs] + [r for u in uris
                                                                          for r in run_rows(u, experiment)])
        default = "run"
    comparison.rows = _sorted(comparison.rows, sort or default, reverse)
    if top is not None:
        comparison.rows = comparison.rows[:top]
    return comparison


def _sorted(rows: list[dict], column: str, reverse: bool) -> list[dict]:
    if not rows:
        return rows
    available = sorted(set().union(*(flatten(r).keys() for r in rows)))
    if column not in available:
        raise NnlabError(f"--sort {column}: no such column{did_you_mean(column, available)}. "
                         f"Columns: {', '.join(available)}")

    def key(row: dict):
        value = flatten(row).get(column)
        if not is_number(value):
            return (1, 0.0, str(value) if value is not None else "")
        if column in ("score", "best_score"):  # best first, whatever the direction
            value = -value if row.get("direction") == "max" else value
        return (0, value, "")

    ordered = sorted(rows, key=key)
    if reverse:
        missing = [r for r in ordered if key(r)[0] == 1]
        ordered = [r for r in ordered if key(r)[0] == 0][::-1] + missing
    return ordered


def baseline_row(summary: Summary) -> dict:
    """search.baseline as a row among the trials, marked `baseline` (its trial_id and status)."""
    baseline = summary.baseline
    return {"run": summary.run, "trial_id": "baseline", "status": "baseline", "score": baseline["score"],
            "objective": summary.objective, "direction": summary.direction,
            "hyperparameters": {"model": baseline["model"],
                                **{f"gbm_{k}": v for k, v in baseline.get("params", {}).items()}},
            "metrics": baseline.get("metrics", {}), "best_epoch": None, "epochs": None,
            "seconds": baseline.get("seconds"), "worker": None, "reason": None}


def flatten(row: dict) -> dict:
    """Nested hyperparameters and metrics as their own columns (for CSV, Markdown, sorting, DataFrames):
    the row's own fields first, then each nested name not already a column."""
    out = {key: value for key, value in row.items() if not isinstance(value, dict)}
    for value in row.values():
        if isinstance(value, dict):
            out.update({k: v for k, v in value.items() if k not in out})
    return out


# ------------------------------------------------------------------------------------ rendering


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return " ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def render(comparison: Comparison, fmt: str = "table", width: int | None = None) -> str:
    rows = comparison.rows
    if fmt == "json":
        fields = _run_fields(rows) if comparison.level == "runs" else _trial_fields(rows)
        return json.dumps([{k: r.get(k) for k in fields} for r in rows], indent=2, default=str)
    flat = [flatten(r) for r in rows]
    columns = _columns(comparison.level, rows, flat)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{c: ("" if r.get(c) is None else r.get(c)) for c in columns} for r in flat])
        return out.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(_cell(r.get(c)).replace("|", "\\|") for c in columns) + " |" for r in flat]
        return "\n".join(lines) + "\n"
    return _rich_table(comparison, rows, width)


def _columns(level: str, rows: list[dict], flat: list[dict]) -> list[str]:
    nested = "best_hyperparameters" if level == "runs" else "hyperparameters"
    base = _run_fields(rows) if level == "runs" else _trial_fields(rows)
    columns = [c for c in base if c not in (nested, "metrics")]
    for key in ([nested] + (["metrics"] if level == "trials" else [])):
        for r in rows:
            columns += [k for k in r.get(key, {}) if k not in columns]
    return columns


def _trial_fields(rows: list[dict]) -> list[str]:
    """The trials' fields, with each model's size and whether it is on the front after the score where
    `--pareto` gave them."""
    if not any("front" in r for r in rows):
        return TRIAL_FIELDS
    at = TRIAL_FIELDS.index("score") + 1
    timed = ["latency_ms"] if any(r.get("latency_ms") is not None for r in rows) else []
    return [*TRIAL_FIELDS[:at], "front", "params", "model_mb", "macs", *timed, *TRIAL_FIELDS[at:]]


def _run_fields(rows: list[dict]) -> list[str]:
    """The runs' fields, with the expected score on new rows and search.baseline's score beside the best
    where some run has one."""
    extra = [k for k in ("expected_score", "baseline_score") if any(r.get(k) is not None for r in rows)]
    at = RUN_FIELDS.index("best_score") + 1
    server = [k for k in ("experiment", "host") if any(r.get(k) for r in rows)]  # (a tracking server's runs)
    return [*RUN_FIELDS[:1], *server, *RUN_FIELDS[1:at], *extra, *RUN_FIELDS[at:]]


def _rich_table(comparison: Comparison, rows: list[dict], width: int | None) -> str:
    if comparison.level == "runs":
        title = "Runs"
        spec = [("run", "run"), ("model", "model"), ("data", "data"), ("objective", "objective"),
                ("best", "best_score"), ("trials", None), ("best hyperparameters", "best_hyperparameters"),
                ("time", "seconds"), ("size", "size_mb"), ("status", "status")]
        if "baseline_score" in _run_fields(rows):
            spec.insert(5, ("baseline", "baseline_score"))
        if "expected_score" in _run_fields(rows):
            spec.insert(5, ("expected", "expected_score"))
        if "host" in _run_fields(rows):  # (runs from a tracking server: who ran each)
            spec.insert(1, ("host", "host"))
    else:
        title = f"Trials of {rows[0]['run'] if rows else ''}, best first"
        objective = rows[0]["objective"] if rows else "score"
        spec = [("trial", "trial_id"), (objective or "score", "score"), ("hyperparameters", "hyperparameters"),
                ("epochs", "epochs"), ("time", "seconds"), ("status", "status")]
        if any(r.get("worker") for r in rows):  # a parallel run: who trained each trial
            spec.insert(-1, ("worker", "worker"))
        if any("front" in r for r in rows):  # --pareto: each model's size, the front marked
            spec[2:2] = [("front", "front"), ("params", "params"), ("MB", "model_mb"), ("multiply-adds", "macs")]
            if any(r.get("latency_ms") is not None for r in rows):
                spec[6:6] = [("ms", "latency_ms")]
    lines = [[_table_cell(r, key) for _, key in spec] for r in rows]
    if len(rows) > PLAIN_TABLE_ROWS:
        return _plain_table(title, [name for name, _ in spec], lines)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for name, _ in spec:
        table.add_column(name, overflow="fold")
    for cells in lines:
        table.add_row(*cells)
    console = Console(file=io.StringIO(), width=width or 160, highlight=False)
    console.print(table)
    return console.file.getvalue()


def _table_cell(r: dict, key: str | None) -> str:
    if key is None:
        pruned = f", {r['pruned']} pruned" if r.get("pruned") else ""
        return f"{r['completed']} done{pruned}, {r['failed']} failed"
    if key == "seconds":
        return fmt_duration(r.get("seconds"))
    if key == "size_mb":
        return "" if r.get("size_mb") is None else f"{r['size_mb']:.1f} MB"
    if key == "front":
        return "◆" if r.get("front") else ""
    if key in ("params", "macs") and r.get(key) is not None:
        return f"{r[key]:,}"
    if key == "status" and r.get("reason"):
        return f"{r['status']}: {r['reason']}"
    return _cell(r.get(key))


def _plain_table(title: str, header: list[str], lines: list[list[str]]) -> str:
    """Aligned columns without borders: a long table (1,000 trials) in milliseconds, where rich's
    layout takes a second. The last column is not padded."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

    def row(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths)) + "  " + cells[-1]

    return "\n".join([title, row(header), row(["-" * w for w in widths]), *map(row, lines)]) + "\n"
