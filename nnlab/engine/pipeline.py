"""The training data as TensorFlow sees it: built once per run, re-batched per trial.

Keras turns NumPy arrays into a fresh input pipeline on every `fit` and slices them step by step, at
several milliseconds a step on a CPU. `TrainingData` makes one `tf.data` pipeline per run instead
(cached; shuffled each epoch, as `fit` does; batched to each trial's batch size; prefetched) and one
for validation, evaluated in large batches. The same examples, the same epochs, the same validation
every epoch: only the overhead goes.
"""

from __future__ import annotations

import numpy as np

from nnlab.engine.backend import import_tensorflow

VALIDATION_ROWS = 8192  # tabular validation batch (rows)
VALIDATION_PIXELS = 2**18  # image validation batch: rows × height × width at most this (activations grow with it)


class TrainingData:
    """`replicas` > 1 (mirrored training): every batch splits evenly over the replicas, or Keras fails
    (an AddN shape mismatch) or gives a replica no rows (NaN). So the last, short training batch of an
    epoch is dropped, and the validation rows are cut to a multiple of the replica count, in batches
    that are multiples of it (`validation_used` says how many rows are used)."""

    def __init__(self, x: np.ndarray, y, x_val: np.ndarray, y_val, seed: int, replicas: int = 1):
        tf = import_tensorflow()
        self.size, self.seed, self.replicas = len(x), seed, replicas
        self.train = tf.data.Dataset.from_tensor_slices((x, y)).cache()
        self.validation_used = len(x_val) - len(x_val) % replicas
        if self.validation_used < len(x_val):
            x_val = x_val[:self.validation_used]
            y_val = {k: v[:self.validation_used] for k, v in y_val.items()} if isinstance(y_val, dict) \
                else y_val[:self.validation_used]
        pixels = int(np.prod(x_val.shape[1:3])) if x_val.ndim == 4 else 0
        batch = min(len(x_val), VALIDATION_PIXELS // pixels if pixels else VALIDATION_ROWS) or 1
        batch = max(batch - batch % replicas, replicas)
        self.validation = (tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(batch).cache()
                           .prefetch(tf.data.AUTOTUNE))
        self._batched: dict[int, object] = {}

    def batches(self, batch_size: int):
        """The training examples, reshuffled each epoch, in batches of `batch_size`."""
        if batch_size not in self._batched:
            tf = import_tensorflow()
            self._batched[batch_size] = (
                self.train.shuffle(self.size, seed=self.seed, reshuffle_each_iteration=True)
                .batch(batch_size, drop_remainder=self.replicas > 1).prefetch(tf.data.AUTOTUNE)
            )
        return self._batched[batch_size]

    def steps(self, batch_size: int) -> int:
        return self.size // batch_size if self.replicas > 1 else -(-self.size // batch_size)


def fold_indices(y: np.ndarray, task: str, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training rows, validation rows) of each of `folds` folds: stratified by class where every
    class has at least `folds` rows (one target), shuffled with the spec's seed."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "classification" and np.ndim(y) == 1 and np.bincount(np.asarray(y, np.int64)).min() >= folds:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))
