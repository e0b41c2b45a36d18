"""nnlab's Keras metric: macro F1, computed in Keras's own validation pass (as `val_f1`).

It counts a confusion matrix batch by batch and reads macro F1 off it exactly as `nnlab.scores.
macro_f1` does on predictions (the mean over the classes present in the truth or the predictions), so
a trial's `val_f1` and `nnlab evaluate`'s macro F1 agree. The class is defined on first use, so that
importing this module does not import Keras.
"""

from __future__ import annotations

import functools


@functools.cache
def _macro_f1_class():
    import keras
    from keras import ops

    class MacroF1(keras.metrics.Metric):
        def __init__(self, num_classes: int, binary: bool = False, name: str = "f1", **kwargs):
            super().__init__(name=name, **kwargs)
            self.num_classes, self.binary = num_classes, binary
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
            present = ops.cast(tp + fp + fn > 0, "float32")
            f1 = ops.divide_no_nan(2 * tp, 2 * tp + fp + fn)
            return ops.divide_no_nan(ops.sum(f1 * present), ops.sum(present))

        def reset_state(self):
            self.confusion.assign(ops.zeros((self.num_classes, self.num_classes), dtype="float32"))

        def get_config(self):
            return {**super().get_config(), "num_classes": self.num_classes, "binary": self.binary}

    return MacroF1


def macro_f1_metric(num_classes: int, binary: bool):
    """A fresh macro-F1 metric, named `f1` (Keras logs `val_f1` for the validation data)."""
    return _macro_f1_class()(max(num_classes, 2), binary)
