"""`nnlab report`: one self-contained HTML file about a run, to read or to share.

It holds the run's summary, its spec, the table of trials, the pictures of `nnlab plot` (embedded, so
the file stands alone), the best model's layers, and the best model's metrics on the run's validation
split: classification accuracy, macro F1, per-class report and confusion matrix; regression RMSE, MAE,
R² and the share of predictions within 10%. The validation split is the sweep's own (same data file,
same seed); where the data cannot be read any more, the report says so and keeps the rest.
"""

from __future__ import annotations

import base64
import html
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from nnlab.errors import NnlabError, RunError
from nnlab.runs import files
from nnlab.runs.fmt import fmt_duration, fmt_value
from nnlab.runs.folder import RunFolder
from nnlab.runs.outputs import check_output
from nnlab.runs.records import Summary, TrialRecord

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #1d232a; line-height: 1.45; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d5dbe1; padding-bottom: 0.3rem; }
.sub { color: #5b6772; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8rem; margin: 1rem 0; }
.card { border: 1px solid #d5dbe1; border-radius: 8px; padding: 0.6rem 0.9rem; min-width: 9rem; }
.card b { display: block; font-size: 1.3rem; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #d5dbe1; padding: 0.25rem 0.55rem; text-align: right; }
th { background: #f2f5f8; } td.l, th.l { text-align: left; }
tr.best td { background: #eaf6ec; font-weight: 600; }
td.failed { color: #a4262c; text-align: left; }
td.pruned { color: #8a6d00; text-align: left; }
pre { background: #f6f8fa; border: 1px solid #d5dbe1; border-radius: 6px; padding: 0.8rem; overflow-x: auto;
      font-size: 0.82rem; }
img { max-width: 100%; border: 1px solid #e3e8ed; border-radius: 6px; margin: 0.5rem 0; }
.note { color: #5b6772; font-size: 0.88rem; }
"""


def build_report(run_dir: str | Path, output: str | Path | None = None) -> Path:
    """Write the run's HTML report (default RUN/report.html); return its path."""
    from nnlab.tools.plots import plot_run

    folder = RunFolder(run_dir).require()
    contents = folder.load()
    run_dir, summary, records = folder.path, contents.summary, contents.records
    if not contents.ranked:
        raise RunError(f"{run_dir} has no completed trial to report on")
    output = Path(output) if output else run_dir / "report.html"
    check_output(output, own=[run_dir / "report.html"])
    with tempfile.TemporaryDirectory() as tmp:
        pictures = [(p.stem.replace("_", " "), base64.b64encode(p.read_bytes()).decode())
                    for p in plot_run(run_dir, tmp)]
    model_text, metrics, metrics_note = _best_model(run_dir)
    spec_text = folder.spec_path.read_text(encoding="utf-8") if folder.spec_path.is_file() else "(spec.yaml is missing)"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>nnlab report: {_e(summary.run)}</title>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{_e(summary.run)}</h1>",
        f"<p class='sub'>nnlab run report · {_e(summary.data or '')} · {_e(summary.model or '')} · "
        f"{_e(summary.tuner or '')} search · written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC</p>",
        _cards(summary),
        *(["<h2>How the data was read</h2><ul class='note'>", *(f"<li>{_e(n)}</li>" for n in summary.notes), "</ul>"]
          if summary.notes else []),
        f"<h2>{'The final' if summary.refit or summary.ensemble else 'Best'} model on the validation data</h2>",
        _metrics_html(metrics, metrics_note),
        *_explained_html(run_dir),
        "<h2>Trials</h2>", *_baseline_html(summary), _trials_table(summary, contents.ranked, records),
        "<h2>Pictures</h2>",
        *(f"<h3>{_e(title.capitalize())}</h3><img alt='{_e(title)}' src='data:image/png;base64,{data}'>"
          for title, data in pictures),
        "<h2>The best model's layers</h2>", f"<pre>{_e(model_text)}</pre>",
        "<h2>Spec</h2>", f"<pre>{_e(spec_text)}</pre>",
        "<p class='note'>Made by nnlab from the run folder's files "
        f"({_e(str(run_dir.resolve()))}).</p></body></html>",
    ]
    files.write_atomic(output, "\n".join(parts))
    return output


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _cards(summary: Summary) -> str:
    expected = (summary.expected_score or {}).get("value")
    cards = [("best " + str(summary.objective or "score"), fmt_value(summary.best_score)),
             *([("expected on new rows", fmt_value(expected))] if expected is not None else []),
             ("best trial", summary.best_trial or "-"),
             ("trials", f"{summary.completed} completed, {summary.pruned} pruned, {summary.failed} failed"
                        + (f" ({summary.failed_out_of_memory} out of memory)" if summary.failed_out_of_memory else "")),
             ("time", fmt_duration(summary.seconds)), ("status", summary.status),
             ("device", summary.device or "-")]
    shown = "".join(f"<div class='card'>{_e(k)}<b>{_e(v)}</b></div>" for k, v in cards)
    return f"<div class='cards'>{shown}</div>"


def _trials_table(summary: Summary, done: list[TrialRecord], records: list[TrialRecord]) -> str:
    """The completed trials best first (`done`), then the others."""
    hp_names = summary.hyperparameter_names or []
    rest = [r for r in records if r not in done]
    head = ["trial", str(summary.objective or "score"), *hp_names, "epochs", "time", "status"]
    rows = ["<table><tr>" + "".join(f"<th class='{'l' if i == 0 else ''}'>{_e(h)}</th>" for i, h in enumerate(head))
            + "</tr>"]
    for i, r in enumerate(done + rest):
        status = r.status + (f": {r.reason}" if r.reason else "")
        score = fmt_value(r.score) if r.score is not None else "-"
        cells = [f"<td class='l'>{_e(r.trial_id)}</td>", f"<td>{_e(score)}</td>"]
        cells += [f"<td>{_e(fmt_value(r.hyperparameters.get(h, '')))}</td>" for h in hp_names]
        cells += [f"<td>{_e(r.epochs or '')}</td>", f"<td>{_e(fmt_duration(r.seconds))}</td>",
                  f"<td class='{r.status if r.status in ('failed', 'pruned') else 'l'}'>{_e(status)}</td>"]
        rows.append(f"<tr class='{'best' if i == 0 and done else ''}'>" + "".join(cells) + "</tr>")
    return "\n".join(rows) + "</table>"


def _baseline_html(summary: Summary) -> list[str]:
    """search.baseline's line above the trials (the best trial against gradient boosting), and the
    expected score on new rows (data.test_split) or why there is none."""
    from nnlab.baseline import versus
    from nnlab.engine.final.expected import described

    lines = [versus(summary.baseline or {}, summary.best_score, summary.objective or "score", summary.direction),
             described(summary.expected_score)]
    return [f"<p class='note'>{_e(line[0].upper() + line[1:])}.</p>" for line in lines if line]


def _best_model(run_dir: Path) -> tuple[str, dict | None, str]:
    """(the best model's summary, its metrics on the validation split or None, a note)."""
    from nnlab.tools.apply import load_model, open_run, validation_rows
    from nnlab.tools.evaluation import RunModel, evaluate_run

    finished = open_run(run_dir)
    try:
        model = load_model(finished)
    except NnlabError as exc:
        return f"(no model: {exc})", None, str(exc)
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=100)
    try:
        inputs, note = validation_rows(finished)
    except NnlabError as exc:
        return "\n".join(lines), None, f"the run's data cannot be read any more, so no metrics: {exc}"
    return "\n".join(lines), evaluate_run(RunModel(finished, model), inputs), note


def _metrics_html(result: dict | None, note: str) -> str:
    if result is None:
        return f"<p class='note'>{_e(note)}</p>"
    if "targets" in result:
        return "\n".join(f"<h3>Target {_e(name)}</h3>" + _metrics_html(one, note)
                         for name, one in result["targets"].items())
    if result["task"] == "regression":
        items = [("RMSE", fmt_value(result["rmse"])), ("MAE", fmt_value(result["mae"])),
                 ("R²", f"{result['r2']:.4f}"), ("within 10% of the true value", f"{result['within_10_percent']:.1%}")]
        return ("<div class='cards'>" + "".join(f"<div class='card'>{_e(k)}<b>{_e(v)}</b></div>" for k, v in items)
                + f"</div><p class='note'>{_e(note)}</p>")
    names = result["classes"]
    out = [*_threshold_html(result.get("threshold")), "<div class='cards'>",
           f"<div class='card'>accuracy<b>{result['accuracy']:.4f}</b></div>",
           f"<div class='card'>macro F1<b>{result['macro_f1']:.4f}</b></div></div>",
           f"<p class='note'>{_e(note)}</p>", "<h3>Per class</h3>",
           "<table><tr><th class='l'>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"]
    for name in names:
        c = result["per_class"][name]
        out.append(f"<tr><td class='l'>{_e(name)}</td><td>{c['precision']:.3f}</td><td>{c['recall']:.3f}</td>"
                   f"<td>{c['f1-score']:.3f}</td><td>{int(c['support'])}</td></tr>")
    out.append("</table><h3>Confusion matrix</h3><p class='note'>rows: true class; columns: predicted class</p>")
    out.append("<table><tr><th></th>" + "".join(f"<th>{_e(n)}</th>" for n in names) + "</tr>")
    for name, row in zip(names, result["confusion_matrix"]):
        total = max(sum(row), 1)
        cells = "".join(
            f"<td style='background: rgba(33, 118, 174, {0.08 + 0.6 * v / total:.2f})'>{v}</td>" if v else "<td>0</td>"
            for v in row)
        out.append(f"<tr><th class='l'>{_e(name)}</th>{cells}</tr>")
    return "\n".join(out) + "</table>"


def _threshold_html(section: dict | None) -> list[str]:
    """Two classes: the decision threshold in use and what it gives, the one with the highest F1, and the
    precision–recall curve."""
    if not section:
        return []
    from nnlab.tools.explainplots import curve_picture

    lines = [f"<p>{_e(section[key]['how'])}: precision {section[key]['precision']:.3f}, recall "
             f"{section[key]['recall']:.3f}, F1 {section[key]['f1']:.3f}</p>" for key in ("in_use", "chosen")
             if key in section]
    with tempfile.TemporaryDirectory() as tmp:
        picture = base64.b64encode(curve_picture(section, Path(tmp) / "curve.png").read_bytes()).decode()
    return ["<h3>Where the line is drawn</h3>", *lines,
            f"<img alt='precision-recall curve' src='data:image/png;base64,{picture}'>"]


def _explained_html(run_dir: Path) -> list[str]:
    """The pictures `nnlab explain` left in RUN/explain/, under what they answer."""
    folder = run_dir / "explain"
    if not folder.is_dir():
        return []
    groups = [("Which inputs matter", "importance*.png"),
              ("How the prediction moves with one input", "dependence_*.png"),
              ("What the model looks at", "gradcam_*.png"), ("The classes it confuses", "confused*.png")]
    out = []
    for title, pattern in groups:
        pictures = sorted(folder.glob(pattern), key=lambda p: [int(t) if t.isdigit() else t for t in p.stem.split("_")])
        if pictures:
            out.append(f"<h2>{_e(title)}</h2>")
            out += [f"<img alt='{_e(p.stem)}' src='data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}'>"
                    for p in pictures]
    if out:
        out.append("<p class='note'>From `nnlab explain` (RUN/explain/); run it again after the run changes.</p>")
    return out
