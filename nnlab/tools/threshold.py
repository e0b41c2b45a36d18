"""Where to draw the line for a target of two classes: the probability of the positive class from which a
row is predicted positive (`data.threshold`, `predict --threshold`, `evaluate --cost`).

A rule is a number (that threshold), `f1` (the threshold that maximises F1) or a cost (`fp=1,fn=5`: a
missed positive costs five false alarms; the threshold that minimises fp·FP + fn·FN). `f1` and a cost
are chosen on the run's validation rows, never on the rows being scored. No TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnlab.errors import DataError

DEFAULT = 0.5


@dataclass(frozen=True)
class Cost:
    fp: float
    fn: float

    def __str__(self) -> str:
        return f"fp={self.fp:g},fn={self.fn:g}"


Rule = float | str | Cost  # a number, "f1", or a Cost


@dataclass(frozen=True)
class Choice:
    """A threshold and how it was found (`rule`: its words), on how many validation rows (0: given)."""

    value: float
    rule: str
    rows: int = 0
    source: str = ""  # which model's probabilities, where it is not the one in use

    def describe(self) -> str:
        if not self.rows:
            return f"threshold {self.value:.3g} ({self.rule})"
        return f"threshold {self.value:.3g} ({self.rule}, chosen on {self.rows} validation rows{self.source})"


def parse_rule(text) -> Rule:
    """A rule as a flag or the spec gives it: 0.3, "f1", "fp=1,fn=5" or {"fp": 1, "fn": 5}."""
    if isinstance(text, Cost):
        return text
    if isinstance(text, float):
        return _number(text)
    if hasattr(text, "fp") and hasattr(text, "fn"):  # (the spec's data.threshold: {fp: 1, fn: 5})
        return _cost({"fp": text.fp, "fn": text.fn}, f"fp={text.fp:g},fn={text.fn:g}")
    if isinstance(text, dict):
        return _cost({str(k): v for k, v in text.items()}, str(text))
    text = str(text).strip().lower()
    if text == "f1":
        return "f1"
    if "=" in text:
        parts = dict(part.split("=", 1) for part in text.replace(" ", "").split(",") if "=" in part)
        return _cost(parts, text)
    try:
        return _number(float(text))
    except ValueError:
        raise DataError(f"threshold {text!r}: give a probability between 0 and 1 (0.3), f1, or costs "
                        "(fp=1,fn=5: a missed positive costs five false alarms)") from None


def _number(value: float) -> float:
    if not 0 < value < 1:
        raise DataError(f"threshold {value:g}: a probability strictly between 0 and 1")
    return float(value)


def _cost(parts: dict, text: str) -> Cost:
    if set(parts) != {"fp", "fn"}:
        raise DataError(f"cost {text!r}: give both fp and fn, e.g. fp=1,fn=5 (what a false alarm and a missed "
                        "positive each cost)")
    try:
        fp, fn = float(parts["fp"]), float(parts["fn"])
    except (TypeError, ValueError):
        raise DataError(f"cost {text!r}: fp and fn are numbers, e.g. fp=1,fn=5") from None
    if fp < 0 or fn < 0 or fp + fn == 0:
        raise DataError(f"cost {text!r}: fp and fn are zero or more, and not both zero")
    return Cost(fp, fn)


def choose(y: np.ndarray, p: np.ndarray, rule: Rule) -> Choice:
    """The threshold `rule` gives on rows with labels `y` (1: positive) and positive probabilities `p`."""
    if isinstance(rule, float):
        return Choice(rule, "given")
    y, p = np.asarray(y).astype(int), np.asarray(p, np.float64)
    candidates = np.unique(np.concatenate([p, [DEFAULT]]))
    ranked = np.argsort(p, kind="stable")
    start = np.searchsorted(p[ranked], candidates, side="left")  # rows from here up have p ≥ the candidate
    from_here = np.concatenate([np.cumsum(y[ranked][::-1])[::-1], [0]])  # positives from each row up
    tp = from_here[start]
    fp = (len(p) - start) - tp
    fn = y.sum() - tp
    if rule == "f1":
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        return Choice(_between(candidates, int(np.argmax(f1))), "the highest F1", len(y))
    cost = rule.fp * fp + rule.fn * fn
    return Choice(_between(candidates, int(np.argmin(cost))), f"the lowest cost {rule}", len(y))


def _between(candidates: np.ndarray, best: int) -> float:
    """Halfway between the best candidate and the one below it: the same validation rows on each side,
    and no new row's probability decided by one validation row's exact value."""
    return float((candidates[best] + candidates[best - 1]) / 2) if best > 0 else float(candidates[best])


def at(y: np.ndarray, p: np.ndarray, threshold: float, cost: Cost | None = None) -> dict:
    """Precision, recall and F1 of the positive class, and the counts, when rows with p ≥ threshold are
    predicted positive (with `cost`: what the mistakes cost)."""
    y, predicted = np.asarray(y).astype(int), np.asarray(p) >= threshold
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    fn = int(np.sum(~predicted & (y == 1)))
    tn = int(np.sum(~predicted & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    out = {"threshold": float(threshold), "precision": precision, "recall": recall, "f1": f1,
           "true_positives": tp, "false_positives": fp, "false_negatives": fn, "true_negatives": tn}
    if cost is not None:
        out["cost"] = cost.fp * fp + cost.fn * fn
    return out


def curve(y: np.ndarray, p: np.ndarray, points: int = 101) -> dict:
    """The precision–recall curve (scikit-learn's), at most `points` points, with each point's threshold."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(np.asarray(y).astype(int), p)
    keep = np.unique(np.linspace(0, len(thresholds) - 1, min(points, len(thresholds))).astype(int))
    return {"precision": precision[keep].tolist(), "recall": recall[keep].tolist(),
            "threshold": thresholds[keep].tolist(),
            "average_precision": float(average_precision_score(np.asarray(y).astype(int), p))}
