"""The training data as TensorFlow sees it: built once per run, re-batched per trial.

Keras turns NumPy arrays into a fresh input pipeline on every `fit` and slices them step by step, at
several milliseconds a step on a CPU. `TrainingData` makes one `tf.data` pipeline per run instead
(cached; shuffled each epoch, as `fit` does; batched to each trial's batch size; prefetched) and one
for validation, evaluated in large batches. The same examples, the same epochs, the same validation
every epoch: only the overhead goes.
"""

from __future__ import annotations

import numpy as np

from .backend import import_tensorflow

VALIDATION_BATCH_BYTES = 64 * 1024**2  # validation batches up to this size of input


class TrainingData:
    def __init__(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, seed: int):
        tf = import_tensorflow()
        self.size, self.seed = len(x), seed
        self.train = tf.data.Dataset.from_tensor_slices((x, y)).cache()
        row_bytes = max(1, x_val[:1].nbytes)
        batch = int(max(1, min(len(x_val), VALIDATION_BATCH_BYTES // row_bytes)))
        self.validation = (tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(batch).cache()
                           .prefetch(tf.data.AUTOTUNE))
        self._batched: dict[int, object] = {}

    def batches(self, batch_size: int):
        """The training examples, reshuffled each epoch, in batches of `batch_size`."""
        if batch_size not in self._batched:
            tf = import_tensorflow()
            self._batched[batch_size] = (
                self.train.shuffle(self.size, seed=self.seed, reshuffle_each_iteration=True)
                .batch(batch_size).prefetch(tf.data.AUTOTUNE)
            )
        return self._batched[batch_size]

    def steps(self, batch_size: int) -> int:
        return -(-self.size // batch_size)
