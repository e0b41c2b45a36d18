"""`--pick smallest-within MARGIN` (or `fastest-within`) of export, retrain and evaluate: the trial with
the fewest parameters (the shortest search.latency time) among the completed trials whose score is
within MARGIN of the best's. MARGIN is absolute in the objective's units (0.01: one point of accuracy)
or, written with %, relative to the best score (1%: a hundredth of it). Ties go to the better score,
so the pick is on the run's Pareto front (`runs.tradeoff`), whose checkpoints are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nnlab.errors import RunError
from nnlab.runs.fmt import fmt_value
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import TrialRecord
from nnlab.runs.tradeoff import trial_costs

RULES = {"smallest-within": "params", "fastest-within": "latency"}
UNITS = {"params": "parameters", "latency": "ms a forward pass"}


@dataclass
class Pick:
    rule: str
    margin: float  # in the objective's units
    margin_text: str  # as given: 0.01 (absolute) or 1% (relative)
    objective: str
    best: TrialRecord
    chosen: TrialRecord
    best_cost: float
    chosen_cost: float

    @property
    def trial_id(self) -> str:
        return self.chosen.trial_id

    @property
    def is_best(self) -> bool:
        return self.chosen.trial_id == self.best.trial_id

    def describe(self) -> str:
        """One line: which trial, its score and cost beside the best's, and how the margin was read."""
        cost = RULES[self.rule]
        kind = "relative: of the best score" if self.margin_text.endswith("%") else "absolute"
        chosen = (f"trial {self.chosen.trial_id} ({self.objective} {fmt_value(self.chosen.score)}, "
                  f"{_cost_text(self.chosen_cost, cost)})")
        if self.is_best:
            return f"{self.rule} {self.margin_text}: {chosen}, the best trial itself: no trial within is cheaper"
        ratio = self.best_cost / self.chosen_cost if self.chosen_cost else float("inf")
        return (f"{self.rule} {self.margin_text} ({kind}, {fmt_value(self.margin)}): {chosen}; the best, trial "
                f"{self.best.trial_id}: {fmt_value(self.best.score)}, {_cost_text(self.best_cost, cost)} "
                f"({ratio:.3g}× {'more' if cost == 'params' else 'slower'})")


def _cost_text(value: float, cost: str) -> str:
    return f"{value:,.0f} {UNITS[cost]}" if cost == "params" else f"{value:.3g} {UNITS[cost]}"


def parse_margin(text: str, best_score: float) -> float:
    """MARGIN in the objective's units: a number as is, N% as N hundredths of |best_score|."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 * abs(best_score) if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise RunError(f"--pick: the margin {text!r} is not a number ≥ 0 (0.01: absolute, in the objective's "
                       "units; 1%: relative to the best score)")
    return value


def pick(run_dir: str | Path, rule: str, margin_text: str) -> Pick:
    """The trial `rule` picks in the run at `run_dir`, or a RunError saying why none can be."""
    if rule not in RULES:
        raise RunError(f"--pick {rule}: give one of {', '.join(RULES)}, then a margin (e.g. --pick smallest-within "
                       "0.01)")
    folder = RunFolder(run_dir)
    contents = folder.load()
    ranked = contents.ranked
    if not ranked:
        raise RunError(f"{folder.path} has no completed trial to pick from")
    best, direction = ranked[0], contents.summary.direction
    margin = parse_margin(margin_text, best.score)
    costs = trial_costs(folder.path, contents.records, RULES[rule])
    if best.trial_id not in costs:
        what = ("timed no trial: set search.latency (keras, litert or onnx)" if rule == "fastest-within" else
                f"has no size rule for its {contents.summary.model} models")
        raise RunError(f"--pick {rule}: {folder.path} {what}")
    worse = (lambda r: best.score - r.score) if direction == "max" else (lambda r: r.score - best.score)
    within = [r for r in ranked if r.trial_id in costs and worse(r) <= margin + 1e-12]
    chosen = min(within, key=lambda r: (costs[r.trial_id], worse(r), r.number))
    return Pick(rule, margin, str(margin_text).strip(), contents.summary.objective, best, chosen,
                costs[best.trial_id], costs[chosen.trial_id])
