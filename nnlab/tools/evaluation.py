"""`nnlab evaluate`: a run's model on labelled data, with what a write-up asks of it.

- the metrics (`apply.scores_of`), at the decision threshold in use for a target of two classes: the
  one `--threshold` gives, else the spec's `data.threshold`, else 0.5;
- for a target of two classes: precision, recall and F1 at that threshold, the precision–recall curve,
  and the threshold that maximises F1 (or, with `--cost fp=1,fn=5`, minimises the cost), chosen on the
  run's validation rows, never on DATA, with what it gives on DATA;
- with `--by COLUMN`: the metrics per group of rows (`segments`).
"""

from __future__ import annotations

import functools

import numpy as np

from nnlab.errors import DataError, NnlabError
from nnlab.tools import threshold as thresholds
from nnlab.tools.apply import RunToApply, decided, load_model, model_outputs, scores_of, validation_rows
from nnlab.tools.inputs import Inputs


class RunModel:
    """A finished run and its loaded model, with its validation rows' outputs read once when needed."""

    def __init__(self, run: RunToApply, model):
        self.run, self.model = run, model
        self._validation: tuple | None = None
        self._unseen: tuple | None = None

    @functools.cached_property
    def spec_data(self):
        """The run's spec's data section (read once), or None where the spec cannot be read on its own (a
        run given a DataFrame from Python: its spec names no file)."""
        try:
            return self.run.folder.spec().data
        except NnlabError:
            return None

    def outputs(self, x: np.ndarray) -> list[np.ndarray]:
        return model_outputs(self.model, x, self.run.preparation)

    def validation(self) -> tuple[Inputs, list[np.ndarray], str]:
        """(the run's validation rows, the model's outputs for them, the note saying which rows they are)."""
        if self._validation is None:
            inputs, note = validation_rows(self.run)
            self._validation = inputs, self.outputs(inputs.x), note
        return self._validation

    def unseen_validation(self) -> tuple[Inputs, np.ndarray, str]:
        """(the validation rows, the positive class's probabilities, which model gave them) from a model
        that never trained on those rows where there is one: the final model, or, when it was refitted on
        every row (search.refit), the searched model of the same configuration, whose threshold carries
        over. Where none is unseen (data.folds, a refitted ensemble), the final model's, and it is said."""
        if self._unseen is None:
            self._unseen = self._unseen_validation()
        return self._unseen

    def _unseen_validation(self) -> tuple[Inputs, np.ndarray, str]:
        inputs, outputs, _ = self.validation()
        summary = self.run.summary
        seen = ("with data.folds every row trained some fold's model" if getattr(self.spec_data, "folds", None) else
                "the ensemble's members were refitted on every row" if (summary.ensemble or {}).get("refit") else
                None)
        if seen is None and summary.refit:
            try:
                searched = load_model(self.run, str(summary.refit["trial"]))
            except NnlabError:
                seen = f"the model was refitted on them and trial {summary.refit['trial']}'s own weights were not kept"
            else:
                p = model_outputs(searched, inputs.x, self.run.preparation)[0][:, 1]
                return inputs, p, (f", by trial {summary.refit['trial']}'s model as searched (the refitted one "
                                   "trained on them)")
        if seen is None:
            return inputs, outputs[0][:, 1], ""
        return inputs, outputs[0][:, 1], f"; not unseen rows: {seen}, so it may be too sure of them"

    def two_classes(self) -> bool:
        targets = self.run.preparation.outputs()
        return len(targets) == 1 and targets[0].task == "classification" and len(targets[0].class_names) == 2

    def threshold(self, given=None) -> thresholds.Choice | None:
        """The decision threshold in use: `given` (a flag's rule), else the spec's data.threshold; None: 0.5
        (or not a target of two classes). A rule chosen on rows (f1, a cost) is chosen on validation rows."""
        rule = given if given is not None else getattr(self.spec_data, "threshold", None)
        if rule is None:
            return None
        if not self.two_classes():
            raise DataError("a decision threshold is for a target of two classes; this run's "
                            + ("targets are several" if len(self.run.preparation.outputs()) > 1 else
                               "target is not one") + ": leave out --threshold and data.threshold")
        rule = thresholds.parse_rule(rule)
        if isinstance(rule, float):
            return thresholds.Choice(rule, "given" if given is not None else "data.threshold")
        inputs, p, how = self.unseen_validation()
        return _described(thresholds.choose(inputs.y, p, rule), how)


def evaluate_run(found: RunModel, inputs: Inputs, given=None, cost: str | None = None, by: str | None = None,
                 notes: list[str] | None = None) -> dict:
    """The metrics on `inputs` (labelled), with the threshold sections and the groups of `by`."""
    from nnlab.tools.segments import by_segment, segment_column

    notes = notes if notes is not None else []
    in_use = found.threshold(given)
    outputs = found.outputs(inputs.x)
    result = scores_of(inputs, found.run.preparation, outputs, in_use.value if in_use else None)
    if found.two_classes():
        result["threshold"] = _threshold_section(found, inputs, outputs[0][:, 1], in_use, cost, notes)
    elif cost is not None:
        raise DataError("--cost chooses a decision threshold, which is for a target of two classes; leave it out")
    if by is not None:
        series, column = segment_column(inputs.frame, by)
        groups = {}
        for target, values in zip(found.run.preparation.outputs(), outputs):
            y = inputs.y[target.name] if isinstance(inputs.y, dict) else inputs.y
            if target.task == "regression":
                predicted = values[:, 0]
            else:
                predicted = decided(values, in_use.value if in_use else None)
            groups[target.name or ""] = by_segment(series, column, y, target.task, predicted)
        result["segments"] = groups
    return result


def _threshold_section(found: RunModel, inputs: Inputs, p: np.ndarray, in_use, cost: str | None, notes) -> dict:
    rule = thresholds.parse_rule(cost) if cost is not None else "f1"
    price = rule if isinstance(rule, thresholds.Cost) else None
    if isinstance(rule, float):
        raise DataError(f"--cost {cost}: give what each mistake costs, e.g. fp=1,fn=5")
    value = in_use.value if in_use else thresholds.DEFAULT
    section = {"in_use": thresholds.at(inputs.y, p, value, price) | {"how": in_use.describe() if in_use else
                                                                       "threshold 0.5 (the default)"},
               "curve": thresholds.curve(inputs.y, p), "positive_class": str(found.run.preparation.class_names[1])}
    section["table"] = [thresholds.at(inputs.y, p, t, price) for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
    try:
        validation, chosen_p, how = found.unseen_validation()
    except NnlabError as exc:
        notes.append(f"no threshold was chosen: the run's validation rows cannot be read ({exc})")
        return section
    chosen = _described(thresholds.choose(validation.y, chosen_p, rule), how)
    section["chosen"] = thresholds.at(inputs.y, p, chosen.value, price) | {"how": chosen.describe()}
    return section


def _described(choice: thresholds.Choice, how: str) -> thresholds.Choice:
    return thresholds.Choice(choice.value, choice.rule, choice.rows, how) if how else choice


def evaluation_text(result: dict) -> str:
    """The threshold sections and the groups, after `scores.metrics_text`."""
    from nnlab.tools.segments import segments_text

    lines = []
    section = result.get("threshold")
    if section:
        lines.append(f"positive class {section['positive_class']!r}:")
        for key in ("in_use", "chosen"):
            if key in section:
                at = section[key]
                cost = f", cost {at['cost']:g}" if "cost" in at else ""
                lines.append(f"  {at['how']}: precision {at['precision']:.3f}, recall {at['recall']:.3f}, "
                             f"F1 {at['f1']:.3f} ({at['false_positives']} false alarms, {at['false_negatives']} "
                             f"missed{cost})")
        lines.append(f"  precision–recall curve: average precision {section['curve']['average_precision']:.3f}; "
                     + ", ".join(f"at {at['threshold']:.1f}: P {at['precision']:.2f} R {at['recall']:.2f}"
                                 for at in section.get("table", [])[::2]))
    for name, groups in result.get("segments", {}).items():
        lines.append((f"target {name}: " if name else "") + segments_text(groups).rstrip("\n"))
    return "\n".join(lines) + ("\n" if lines else "")
