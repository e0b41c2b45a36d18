"""Metrics and objectives: what Keras logs for a spec, which way is better, and whether the
objective, early-stopping monitor, loss and metrics fit the task. Checked before any training.

With several targets (`data.target: [a, b]`), each target is one output of the model, its head,
named after the column (`head_name`): Keras logs `a_loss`, `val_a_mae`, … per head, `val_loss` (the
sum of the heads' losses), and nnlab adds each metric's mean over the heads (`val_mae`).
"""

from __future__ import annotations

import re

from nnlab.errors import did_you_mean, shown
from nnlab.spec import schema
from nnlab.spec.kinds import is_space
from nnlab.spec.source import spec_source

KNOWN_METRICS = ("loss", *schema.CLASSIFICATION_METRICS, *schema.REGRESSION_METRICS)
SCORES = ("accuracy", "f1", "auc", "pr_auc", "precision", "recall", "r2")  # higher is better


def objective_of(spec: schema.Spec) -> tuple[str, str]:
    """The search's objective: (metric name, direction), the direction inferred unless given."""
    objective = spec.search.objective
    if isinstance(objective, str):
        return objective, metric_direction(objective)
    return objective.name, objective.direction


def metric_direction(name: str) -> str:
    """min for losses and errors, max for scores (`val_f1`, and per head `val_kind_f1`)."""
    base = name.removeprefix("val_")
    return "max" if any(base == s or base.endswith(f"_{s}") for s in SCORES) else "min"


def head_name(column: str) -> str:
    """The name of a target's output in the model and in the logged metrics (`casual`, `price_eur`)."""
    name = re.sub(r"\W+", "_", str(column).strip()).strip("_") or "target"
    return f"t_{name}" if name[0].isdigit() else name


def targets_of(spec: schema.Spec) -> list[str]:
    """The target columns of a spec (several only for a CSV source that lists them)."""
    target = getattr(spec.data, "target", None)
    return list(target) if isinstance(target, list) else []


def unpackable(spec: schema.Spec) -> str | None:
    """Why this spec's trials cannot train in packs (search.pack), or None."""
    if spec.search.tuner == "hyperband":
        return ("tuner: hyperband, whose rounds continue earlier trials' models for a few epochs each and hand out "
                "trials as its brackets allow (use tuner: random, bayesian or grid to pack)")
    if spec.model.kind == "pretrained":
        return ("model.kind: pretrained, whose trials train in two phases (the head, then the base's top layers "
                "at a lower learning rate), each phase a model of its own")
    return None


def check_spec(spec: schema.Spec) -> None:
    """Checks that need more than one field (and no data)."""
    source = spec_source(spec)
    if spec.search.tuner != "hyperband" and spec.search.max_epochs is not None:
        raise source.error(("search", "max_epochs"), "max_epochs applies to the hyperband tuner only; remove it")
    unpacked = unpackable(spec)
    if spec.search.pack not in (1, "auto") and unpacked:
        raise source.error(("search", "pack"), f"pack: {spec.search.pack} does not combine with {unpacked}; leave pack "
                                               "out (or auto, which then trains one trial at a time)")
    for i, metric in enumerate(spec.train.metrics):
        if metric not in ("accuracy", *schema.CLASSIFICATION_METRICS, *schema.REGRESSION_METRICS):
            options = (*schema.CLASSIFICATION_METRICS, *schema.REGRESSION_METRICS)
            raise source.error(
                ("train", "metrics", i),
                f"unknown metric {shown(metric)}{did_you_mean(metric, options)}; expected one of {', '.join(options)}",
            )
    if spec.search.tuner == "grid":
        for section in ("model", "train"):
            for key, value in getattr(spec, section):
                if is_space(value) and not value.finite:
                    raise source.error((section, key), "the grid tuner needs a `step` in every float range "
                                       "(a grid has finitely many points); add one, or use another tuner")
    heads = [head_name(t) for t in targets_of(spec)]
    per_head = [f"{h}_{m}" for h in heads for m in KNOWN_METRICS]
    known = [m for base in (*KNOWN_METRICS, *per_head) for m in (base, f"val_{base}")]
    name = spec.objective_name()
    if name not in known:
        raise source.error(
            ("search", "objective"),
            f"{shown(name)} is not a metric nnlab computes{did_you_mean(name, known)}; "
            "use val_loss, val_accuracy, or val_ plus one of train.metrics",
        )
    monitor = spec.train.early_stopping.monitor if spec.train.early_stopping else None
    if monitor and monitor not in known:
        raise source.error(
            ("train", "early_stopping", "monitor"),
            f"{shown(monitor)} is not a metric nnlab computes{did_you_mean(monitor, known)}",
        )


def logged_metrics(spec: schema.Spec, task: str, heads: list[tuple[str, str]] | None = None) -> list[str]:
    """The metric names Keras will log for this spec and task, validation ones included. `heads`:
    (head name, task) per target, for several targets."""
    if heads:
        return _logged_per_head(spec, heads)
    if task == "classification":
        extra = [m for m in schema.VALIDATION_ONLY_METRICS if m in spec.train.metrics]
        # (Keras computes these on the training batches too; nnlab reports them on the validation data)
        return ["loss", "accuracy", "val_loss", "val_accuracy"] + [f"val_{m}" for m in extra]
    base = ["loss"] + [m for m in schema.REGRESSION_METRICS if m in spec.train.metrics]
    return base + [f"val_{m}" for m in base]


def head_metrics(spec: schema.Spec, task: str) -> list[str]:
    """The metrics one head of this task gets (classification: accuracy and the validation-only ones)."""
    if task == "classification":
        return ["accuracy"] + [m for m in schema.VALIDATION_ONLY_METRICS if m in spec.train.metrics]
    return [m for m in schema.REGRESSION_METRICS if m in spec.train.metrics]


def _logged_per_head(spec: schema.Spec, heads: list[tuple[str, str]]) -> list[str]:
    names = ["loss", "val_loss"]
    means: list[str] = []
    for head, task in heads:
        names += [f"{head}_loss", f"val_{head}_loss"]
        for metric in head_metrics(spec, task):
            if metric not in schema.VALIDATION_ONLY_METRICS:
                names.append(f"{head}_{metric}")
            names.append(f"val_{head}_{metric}")
            means += [] if metric in means else [metric]
    for metric in means:  # each metric's mean over the heads that have it
        names += ([] if metric in schema.VALIDATION_ONLY_METRICS else [metric]) + [f"val_{metric}"]
    return names


def check_task(spec: schema.Spec, task: str, heads: list[tuple[str, str]] | None = None) -> None:
    """Checks that need the task (known once the data is read): metrics, loss and objective. With
    several targets, `heads` gives each one's (head name, task), and `task` is "mixed" when they differ."""
    source = spec_source(spec)
    tasks = {t for _, t in heads} if heads else {task}
    for i, metric in enumerate(spec.train.metrics):
        fits = {"classification" if metric in schema.CLASSIFICATION_METRICS else "regression"}
        if not fits & tasks:
            raise source.error(("train", "metrics", i), f"the metric {shown(metric)} does not fit a {task} task")
    searched = is_space(spec.train.loss)
    for loss in spec.train.loss.values() if searched else [spec.train.loss]:
        if loss and (loss == "crossentropy") != ("classification" in tasks) and not heads:
            fits = "crossentropy" if task == "classification" else "mse, mae, huber or poisson"
            raise source.error(("train", "loss"), f"the loss {shown(loss)} does not fit a {task} task; use {fits}")
        if loss == "crossentropy" and heads and "regression" in tasks:
            raise source.error(("train", "loss"), "train.loss is the loss of the regression targets: mse, mae, "
                                                  "huber or poisson (classification targets always use crossentropy)")
        if loss == "poisson" and getattr(spec.data, "target_transform", "none") != "none":
            raise source.error(("train", "loss"), "the poisson loss fits counts as they are, so it does not combine "
                                                  "with data.target_transform; leave one of them out")
    if searched and re.fullmatch(r"(val_)?(\w+_)?loss", spec.objective_name()):
        raise source.error(("search", "objective"), f"train.loss is searched, so {spec.objective_name()} is in a "
                           "different unit in each trial and cannot rank them; use val_mae, val_rmse or val_r2 "
                           "(add it to train.metrics)")
    _check_smoothing(spec, tasks, source)
    weights = spec.train.class_weight
    if (weights.values() if is_space(weights) else [weights]) != ["none"] and (heads or task != "classification"):
        why = "one target" if heads else "classification"
        raise source.error(("train", "class_weight"), f"class weights apply to {why}; leave train.class_weight out")
    names = logged_metrics(spec, task, heads)
    for loc, name in ((("search", "objective"), spec.objective_name()),
                      (("train", "early_stopping", "monitor"),
                       spec.train.early_stopping.monitor if spec.train.early_stopping else None)):
        if name and name not in names:
            raise source.error(
                loc,
                f"{shown(name)} is not computed for this {task} task{did_you_mean(name, names)}; "
                f"available: {', '.join(names)}",
            )


def _check_smoothing(spec, tasks: set, source) -> None:
    """train.label_smoothing: for classes only, and a searched one changes the loss's unit per trial."""
    smoothing = spec.train.label_smoothing
    if is_space(smoothing) or smoothing:
        if "classification" not in tasks:
            raise source.error(("train", "label_smoothing"), "label smoothing applies to classes; leave "
                                                             "train.label_smoothing out for a regression")
    if is_space(smoothing) and re.fullmatch(r"(val_)?(\w+_)?loss", spec.objective_name()):
        raise source.error(("search", "objective"), f"train.label_smoothing is searched, so {spec.objective_name()} "
                           "is a different loss in each trial and cannot rank them; use val_accuracy (or val_f1, "
                           "val_auc with train.metrics)")
