"""The classification metrics nnlab adds to Keras's, computed in Keras's own validation pass (as
`val_f1`, `val_auc`, …): `classification_metric(name, num_classes, binary)`.

- `f1`: macro F1, from a confusion matrix counted batch by batch, read off exactly as
  `nnlab.scores.macro_f1` does on predictions (the mean over the classes present in the truth or the
  predictions), so a trial's `val_f1` and `nnlab evaluate`'s macro F1 agree.
- `precision`, `recall`: of the positive class for two classes (Keras's own), macro-averaged over the
  classes otherwise (from the same confusion matrix).
- `auc`, `pr_auc`: the area under the ROC or the precision-recall curve; of the positive class for two
  classes (Keras's own), macro-averaged one-vs-rest otherwise.

The classes are defined on first use, so that importing this module does not import Keras.
"""

from __future__ import annotations

import functools

from nnlab.spec.names import CLASSIFICATION_METRICS


@functools.cache
def _classes():
    import keras
    from keras import ops

    class ConfusionMetric(keras.metrics.Metric):
        """Macro F1, precision or recall (`kind`) from a confusion matrix of several classes."""

        def __init__(self, num_classes: int, binary: bool = False, kind: str = "f1", name: str = "f1", **kwargs):
            super().__init__(name=name, **kwargs)
            self.num_classes, self.binary, self.kind = num_classes, binary, kind
            self.confusion = self.add_variable(shape=(num_classes, num_classes), initializer="zeros",
                                               name="confusion", dtype="float32")

        def update_state(self, y_true, y_pred, sample_weight=None):
            truth = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            if self.binary:
                predicted = ops.cast(ops.reshape(y_pred, (-1,)) > 0.5, "int32")
            else:
                predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
            counts = ops.matmul(ops.transpose(ops.one_hot(truth, self.num_classes, dtype="float32")),
                                ops.one_hot(predicted, self.num_classes, dtype="float32"))
            self.confusion.assign_add(counts)

        def result(self):
            tp = ops.diagonal(self.confusion)
            fp = ops.sum(self.confusion, axis=0) - tp
            fn = ops.sum(self.confusion, axis=1) - tp
            if self.kind == "precision":
                score, present = ops.divide_no_nan(tp, tp + fp), ops.cast(tp + fp + fn > 0, "float32")
            elif self.kind == "recall":
                score, present = ops.divide_no_nan(tp, tp + fn), ops.cast(tp + fn > 0, "float32")
            else:
                score, present = ops.divide_no_nan(2 * tp, 2 * tp + fp + fn), ops.cast(tp + fp + fn > 0, "float32")
            return ops.divide_no_nan(ops.sum(score * present), ops.sum(present))

        def reset_state(self):
            self.confusion.assign(ops.zeros((self.num_classes, self.num_classes), dtype="float32"))

        def get_config(self):
            return {**super().get_config(), "num_classes": self.num_classes, "binary": self.binary, "kind": self.kind}

    class SparseAUC(keras.metrics.AUC):
        """Keras's AUC over several classes, one-vs-rest and macro-averaged, from class indices."""

        def __init__(self, num_classes: int, **kwargs):
            super().__init__(multi_label=True, num_labels=num_classes, **kwargs)
            self.classes = num_classes

        def update_state(self, y_true, y_pred, sample_weight=None):
            truth = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), self.classes)
            return super().update_state(truth, y_pred)

    return ConfusionMetric, SparseAUC


def classification_metric(name: str, num_classes: int, binary: bool):
    """A fresh metric for `name` (f1, precision, recall, auc, pr_auc), named so Keras logs `val_NAME`."""
    import keras

    confusion, sparse_auc = _classes()
    curve = {"auc": "ROC", "pr_auc": "PR"}.get(name)
    if name == "f1" or (name in ("precision", "recall") and not binary):
        return confusion(max(num_classes, 2), binary, kind=name, name=name)
    if binary:  # Keras's own: keras.metrics.<CLASSIFICATION_METRICS[name].keras>
        metric = getattr(keras.metrics, CLASSIFICATION_METRICS[name].keras)
        return metric(curve=curve, name=name) if curve else metric(name=name)
    return sparse_auc(num_classes, curve=curve, name=name)


def macro_f1_metric(num_classes: int, binary: bool):
    """A fresh macro-F1 metric, named `f1` (Keras logs `val_f1` for the validation data)."""
    return classification_metric("f1", num_classes, binary)
