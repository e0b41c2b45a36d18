"""Metrics and objectives: what Keras logs for a spec, which way is better, and whether the
objective, early-stopping monitor, loss and metrics fit the task. Checked before any training.
"""

from __future__ import annotations

from nnlab.errors import did_you_mean
from nnlab.spec import schema
from nnlab.spec.kinds import is_space
from nnlab.spec.source import spec_source

KNOWN_METRICS = ("loss", *schema.CLASSIFICATION_METRICS, *schema.REGRESSION_METRICS)
SCORES = ("accuracy", "f1", "auc", "pr_auc", "precision", "recall", "r2")  # higher is better


def metric_direction(name: str) -> str:
    """min for losses and errors, max for scores."""
    base = name.removeprefix("val_")
    return "max" if base in SCORES else "min"


def check_spec(spec: schema.Spec) -> None:
    """Checks that need more than one field (and no data)."""
    source = spec_source(spec)
    if spec.search.tuner != "hyperband" and spec.search.max_epochs is not None:
        raise source.error(("search", "max_epochs"), "max_epochs applies to the hyperband tuner only; remove it")
    for i, metric in enumerate(spec.train.metrics):
        if metric not in ("accuracy", *schema.CLASSIFICATION_METRICS, *schema.REGRESSION_METRICS):
            options = (*schema.CLASSIFICATION_METRICS, *schema.REGRESSION_METRICS)
            raise source.error(
                ("train", "metrics", i),
                f"unknown metric {metric!r}{did_you_mean(metric, options)}; expected one of {', '.join(options)}",
            )
    if spec.search.tuner == "grid":
        for section in ("model", "train"):
            for key, value in getattr(spec, section):
                if is_space(value) and not value.finite:
                    raise source.error((section, key), "the grid tuner needs a `step` in every float range "
                                       "(a grid has finitely many points); add one, or use another tuner")
    known = [m for base in KNOWN_METRICS for m in (base, f"val_{base}")]
    name = spec.objective_name()
    if name not in known:
        raise source.error(
            ("search", "objective"),
            f"{name!r} is not a metric nnlab computes{did_you_mean(name, known)}; "
            "use val_loss, val_accuracy, or val_ plus one of train.metrics",
        )
    monitor = spec.train.early_stopping.monitor if spec.train.early_stopping else None
    if monitor and monitor not in known:
        raise source.error(
            ("train", "early_stopping", "monitor"),
            f"{monitor!r} is not a metric nnlab computes{did_you_mean(monitor, known)}",
        )


def logged_metrics(spec: schema.Spec, task: str) -> list[str]:
    """The metric names Keras will log for this spec and task, validation ones included."""
    if task == "classification":
        extra = [m for m in schema.VALIDATION_ONLY_METRICS if m in spec.train.metrics]
        # (Keras computes these on the training batches too; nnlab reports them on the validation data)
        return ["loss", "accuracy", "val_loss", "val_accuracy"] + [f"val_{m}" for m in extra]
    base = ["loss"] + [m for m in schema.REGRESSION_METRICS if m in spec.train.metrics]
    return base + [f"val_{m}" for m in base]


def check_task(spec: schema.Spec, task: str) -> None:
    """Checks that need the task (known once the data is read): metrics, loss and objective."""
    source = spec_source(spec)
    wrong = schema.REGRESSION_METRICS if task == "classification" else schema.CLASSIFICATION_METRICS
    for i, metric in enumerate(spec.train.metrics):
        if metric in wrong:
            raise source.error(("train", "metrics", i), f"the metric {metric!r} does not fit a {task} task")
    loss = spec.train.loss
    if loss and (loss == "crossentropy") != (task == "classification"):
        fits = "crossentropy" if task == "classification" else "mse, mae or huber"
        raise source.error(("train", "loss"), f"the loss {loss!r} does not fit a {task} task; use {fits}")
    weights = spec.train.class_weight
    if task == "regression" and (weights.values() if is_space(weights) else [weights]) != ["none"]:
        raise source.error(("train", "class_weight"), "class weights apply to classification; this task is "
                                                      "regression: leave train.class_weight out")
    names = logged_metrics(spec, task)
    for loc, name in ((("search", "objective"), spec.objective_name()),
                      (("train", "early_stopping", "monitor"),
                       spec.train.early_stopping.monitor if spec.train.early_stopping else None)):
        if name and name not in names:
            raise source.error(
                loc,
                f"{name!r} is not computed for this {task} task{did_you_mean(name, names)}; "
                f"available: {', '.join(names)}",
            )
