"""A run seen from Python: what `nnlab.run(...)` and `nnlab.open(RUN)` return.

`Run` reads the run folder (as `compare`, `predict` and `plot` do) and offers it the way a notebook
uses it: the trials as a pandas DataFrame, the best trial, the final model, predictions and metrics
on new rows, the plots shown inline, and a summary table as the notebook's rich display. Nothing
here imports TensorFlow until a model is needed.
"""

from __future__ import annotations

import html
from pathlib import Path

from nnlab.errors import plural
from nnlab.progress import ipython_display
from nnlab.runs.fmt import fmt_duration, fmt_value
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import Summary, TrialRecord, run_status


class Run:
    """A run folder, opened. `path`, `summary` (summary.json) and `records` (one `TrialRecord` per
    trial) are read when it is opened; `reload()` reads them again."""

    def __init__(self, path: str | Path):
        self.folder = RunFolder(path).require()
        self._model = None
        self.reload()

    def reload(self) -> Run:
        self.contents = self.folder.load()
        self._model = None  # (a resumed run may have written another best.keras)
        return self

    @property
    def summary(self) -> Summary:
        return self.contents.summary

    @property
    def records(self) -> list[TrialRecord]:
        return self.contents.records

    @property
    def path(self) -> Path:
        return self.folder.path

    run_dir = path  # (the name `nnlab.run`'s result had before nnlab 0.3)

    @property
    def exit_code(self) -> int:
        """What `nnlab run` exits with for this run (see `Summary.exit_code`)."""
        return self.summary.exit_code

    # ---- the trials

    @property
    def trials(self):
        """One row per trial, in search order: trial_id, status, score (the objective at the best
        epoch), each hyperparameter as a column, epochs, seconds and the reason of a failure."""
        import pandas as pd

        from nnlab.runs.compare import baseline_row, flatten, trial_row

        hp_names = self.summary.hyperparameter_names or sorted({k for r in self.records for k in r.hyperparameters})
        columns = ["trial_id", "status", "score", *hp_names, "best_epoch", "epochs", "seconds", "reason"]
        rows = [flatten(trial_row(self.summary, r)) for r in self.records]
        if self.summary.baseline and self.summary.baseline.get("score") is not None:  # (search.baseline, last)
            rows.append(flatten(baseline_row(self.summary)))
            columns[3 + len(hp_names):3 + len(hp_names)] = [k for k in rows[-1] if k.startswith("gbm_")]
        return pd.DataFrame([[row.get(c) for c in columns] for row in rows], columns=columns).set_index("trial_id")

    @property
    def expected_score(self) -> float | None:
        """best.keras's score on the test rows no trial saw (data.test_split), in the objective's terms:
        what to expect on new rows; None without test rows (`summary.expected_score["how"]` says why)."""
        return (self.summary.expected_score or {}).get("value")

    @property
    def ranked(self) -> list[TrialRecord]:
        """The completed trials, best first."""
        return self.contents.ranked

    @property
    def best(self) -> TrialRecord | None:
        """The best completed trial (its `hyperparameters` and `score`), or None."""
        return self.contents.best

    def pick(self, rule: str = "smallest-within", margin: str | float = "1%"):
        """The trial `--pick RULE MARGIN` chooses (`runs.pick.Pick`: `trial_id`, `is_best`, the scores and
        costs, `describe()`); its model is `model(pick.trial_id)`, or `model()` where `is_best`."""
        from nnlab.runs.pick import pick

        return pick(self.path, rule, str(margin))

    # ---- the model

    def model(self, trial: str | None = None):
        """The final Keras model (best.keras: refitted, or the ensemble, as the run made it), or the
        model of trial `trial` as its search trained it. It predicts in inference mode."""
        from nnlab.tools.apply import load_model, open_run

        if trial is not None:
            return load_model(open_run(self.path), str(trial))
        if self._model is None:
            self._model = load_model(open_run(self.path))
        return self._model

    def predict(self, data, proba: bool = False, trial: str | None = None):
        """Predictions for new data, one row per input in order: a DataFrame with `predictions` (one
        column per target when there are several), in the data's own terms (class names, or values in
        the target's units); with `proba`, a probability column per class. `data`: a DataFrame (a
        table run), arrays (an arrays run) or a file or folder path, as `nnlab predict` takes."""
        import numpy as np
        import pandas as pd

        from nnlab.tools.apply import open_run, predict_targets, proba_columns
        from nnlab.tools.inputs import read_inputs

        finished = open_run(self.path)
        inputs = read_inputs(data, finished.preparation, labelled=False)
        columns = {}
        for target, values, probabilities in predict_targets(self.model(trial), inputs, finished.preparation):
            for i in inputs.unread:  # (an image that could not be read: no prediction, not a black image's)
                values[i] = None
            columns[target.name or "predictions"] = values
            if proba and probabilities is not None:
                probabilities[list(inputs.unread)] = np.nan
                columns.update(zip(proba_columns(target), probabilities.T))
        index = data.index if hasattr(data, "index") and len(data.index) == len(inputs.ids) else None
        return pd.DataFrame(columns, index=index)

    def evaluate(self, data, trial: str | None = None, label: str | None = None, threshold=None,
                 cost: str | None = None, by: str | None = None) -> dict:
        """Metrics on labelled data (a DataFrame with the target column, arrays with y, or a path), as
        `nnlab evaluate` reports them, with its --label, --threshold, --cost and --by."""
        from nnlab.tools.apply import open_run
        from nnlab.tools.evaluation import RunModel, evaluate_run
        from nnlab.tools.inputs import read_inputs

        finished = open_run(self.path)
        inputs = read_inputs(data, finished.preparation, labelled=True, label=label)
        return evaluate_run(RunModel(finished, self.model(trial)), inputs, threshold, cost, by)

    def explain(self, data=None, features=(), output=None, repeats: int = 5, images: int = 16, show: bool = True):
        """`nnlab explain` from Python: a table run's permutation importance and partial dependence, an image
        run's Grad-CAM heat maps, written to RUN/explain/ (or `output`). Returns (a DataFrame: one row per
        column and target, or per image, the pictures' paths); in Jupyter the pictures show inline."""
        import pandas as pd

        from nnlab.tools.explainrun import explain_run

        found = explain_run(self.path, data, output, features, repeats, limit=images, model=self.model())
        if found.importances:
            table = pd.DataFrame([{"target": one.target, "column": c.column, "kind": c.kind, "importance": c.mean,
                                   "std": c.std, "metric": one.metric.name} for one in found.importances
                                  for c in one.columns])
        else:
            table = pd.DataFrame(found.images)
        pictures = [p for p in found.files if p.suffix == ".png"]
        display = ipython_display() if show else None
        if display is not None:
            from IPython.display import Image

            for path in pictures:
                display(Image(filename=str(path)))
        return table, pictures

    # ---- pictures and display

    def plot(self, show: bool = True) -> list[Path]:
        """Draw the run's plots (RUN/plots/, as `nnlab plot`); in Jupyter, show them inline too."""
        from nnlab.tools.plots import plot_run

        paths = plot_run(self.path)
        display = ipython_display() if show else None
        if display is not None:
            from IPython.display import Image

            for path in paths:
                display(Image(filename=str(path)))
        return paths

    def __repr__(self) -> str:
        best = self.best
        score = f", best {self.summary.objective} {fmt_value(best.score)} (trial {best.trial_id})" if best else ""
        if self.expected_score is not None:
            score += f", expected on new rows {fmt_value(self.expected_score)}"
        name = self.summary.run or self.folder.name
        return f"<nnlab run {name!r}: {self._status()}, {len(self.records)} trial(s){score}>"

    def _status(self) -> str:
        return run_status(self.summary.status, sum(r.completed for r in self.records))

    def _repr_html_(self) -> str:
        summary, best = self.summary, self.best
        counts = {s: sum(r.status == s for r in self.records) for s in ("completed", "pruned", "failed")}
        facts = [("run", summary.run or self.folder.name), ("folder", str(self.path)), ("status", self._status()),
                 ("data", summary.data), ("model", summary.model), ("tuner", summary.tuner),
                 ("trials", ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"),
                 ("best", f"{summary.objective} {fmt_value(best.score)} (trial {best.trial_id})" if best else "-"),
                 ("expected on new rows", fmt_value(self.expected_score) if self.expected_score is not None else
                  (summary.expected_score or {}).get("how", "-")),
                 ("time", fmt_duration(summary.seconds) if summary.seconds else "-")]
        if summary.refit:
            facts.append(("final model", f"trial {summary.refit.get('trial')} refitted on every training row"))
        if summary.ensemble:
            facts.append(("final model", f"ensemble of trials {', '.join(summary.ensemble.get('trials', []))}"))
        head = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
                       f"{html.escape(str(v))}</td></tr>" for k, v in facts)
        top = self.ranked[:5]
        hp_names = summary.hyperparameter_names or []
        cells = "".join(f"<th>{html.escape(c)}</th>" for c in ("trial", summary.objective or "score", *hp_names))
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(fmt_value(v))}</td>" for v in
                                        (r.trial_id, r.score, *(r.hyperparameters.get(n, "") for n in hp_names)))
                       + "</tr>" for r in top)
        caption = f"<caption>Top {plural(len(top), 'trial')}</caption>"
        table = f"<table>{caption}<tr>{cells}</tr>{rows}</table>" if top else ""
        return f"<div><table>{head}</table>{table}</div>"
