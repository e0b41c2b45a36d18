"""The training data as TensorFlow sees it: built once per run, re-batched per trial.

Keras turns NumPy arrays into a fresh input pipeline on every `fit` and slices them step by step, at
several milliseconds a step on a CPU. `TrainingData` makes one `tf.data` pipeline per run instead
(shuffled each epoch, as `fit` does; batched to each trial's batch size; prefetched) and one for
validation, evaluated in large batches. The same examples, the same epochs, the same validation every
epoch: only the overhead goes.

Host memory: arrays in memory become one TensorFlow tensor each (`from_tensor_slices`), with no
`.cache()` behind it (that kept a second copy of every example). Memory-mapped arrays (the decoded
images a run keeps in its folder, see `nnlab.runs.imagecache`) are never copied whole: the pipeline
shuffles row numbers and reads each batch's rows from the file, so the pages are the operating
system's to share between the processes of a parallel sweep.
"""

from __future__ import annotations

import numpy as np

from nnlab.engine.backend import import_tensorflow

VALIDATION_ROWS = 8192  # tabular validation batch (rows)
VALIDATION_PIXELS = 2**18  # image validation batch: rows × height × width at most this (activations grow with it)


def validation_batch(x_val, replicas: int = 1) -> int:
    """Rows per validation (and prediction) batch: images capped by pixels, tabular rows by count, a
    multiple of the replica count."""
    pixels = int(np.prod(x_val.shape[1:3])) if np.ndim(x_val) == 4 else 0
    batch = min(len(x_val), VALIDATION_PIXELS // pixels if pixels else VALIDATION_ROWS) or 1
    return max(batch - batch % replicas, replicas)


class Rows:
    """The inputs of some examples, addressed by row number without copying: one array, or several read
    one after another (a fold's rows come from both the training and the validation split), each in
    memory or memory-mapped; `index` picks and orders the rows used (None: all of them)."""

    def __init__(self, *parts: np.ndarray, index: np.ndarray | None = None):
        self.parts, self.index = parts, index
        self.starts = np.cumsum([0] + [len(p) for p in parts])

    def __len__(self) -> int:
        return len(self.index) if self.index is not None else int(self.starts[-1])

    @property
    def shape(self) -> tuple:
        return (len(self),) + self.parts[0].shape[1:]

    @property
    def mapped(self) -> bool:
        """Memory-mapped: read batch by batch from the file, never copied whole."""
        return any(isinstance(p, np.memmap) for p in self.parts)

    def take(self, positions: np.ndarray) -> np.ndarray:
        """The rows at these positions (of `index`, or of the parts end to end), in that order."""
        rows = self.index[positions] if self.index is not None else positions
        if len(self.parts) == 1:
            return np.asarray(self.parts[0][rows])
        out = np.empty((len(rows),) + self.parts[0].shape[1:], self.parts[0].dtype)
        for part, start, end in zip(self.parts, self.starts[:-1], self.starts[1:]):
            chosen = (rows >= start) & (rows < end)
            out[chosen] = part[rows[chosen] - start]
        return out

    def first(self, count: int) -> Rows:
        return Rows(*self.parts, index=(self.index if self.index is not None else np.arange(len(self)))[:count])

    def array(self) -> np.ndarray:
        """Every row in memory (arrays already in memory: no copy where none is needed)."""
        if self.index is None and len(self.parts) == 1:
            return self.parts[0]
        return self.take(np.arange(len(self)))


def _slice_targets(y, count: int):
    """Targets (an array, or a dict of them for several heads) cut to their first `count` rows."""
    return {k: v[:count] for k, v in y.items()} if isinstance(y, dict) else y[:count]


class TrainingData:
    """`replicas` > 1 (mirrored training): every batch splits evenly over the replicas, or Keras fails
    (an AddN shape mismatch) or gives a replica no rows (NaN). So the last, short training batch of an
    epoch is dropped, and the validation rows are cut to a multiple of the replica count, in batches
    that are multiples of it (`validation_used` says how many rows are used).

    `x` and `x_val`: arrays or `Rows`; `y` and `y_val`: the matching targets, in memory."""

    def __init__(self, x, y, x_val, y_val, seed: int, replicas: int = 1):
        x, x_val = (r if isinstance(r, Rows) else Rows(r) for r in (x, x_val))
        self.size, self.seed, self.replicas = len(x), seed, replicas
        self.validation_used = len(x_val) - len(x_val) % replicas
        if self.validation_used < len(x_val):
            x_val = x_val.first(self.validation_used)
            y_val = _slice_targets(y_val, self.validation_used)
        self._x, self._y = x, y
        self.validation = _batched(x_val, y_val, validation_batch(x_val, replicas), drop_remainder=False).prefetch(
            import_tensorflow().data.AUTOTUNE)
        self._batched: dict[int, object] = {}

    def batches(self, batch_size: int):
        """The training examples, reshuffled each epoch, in batches of `batch_size`."""
        if batch_size not in self._batched:
            tf = import_tensorflow()
            self._batched[batch_size] = _batched(self._x, self._y, batch_size, drop_remainder=self.replicas > 1,
                                                 shuffle_seed=self.seed).prefetch(tf.data.AUTOTUNE)
        return self._batched[batch_size]

    def steps(self, batch_size: int) -> int:
        return self.size // batch_size if self.replicas > 1 else -(-self.size // batch_size)


def _batched(x: Rows, y, batch_size: int, drop_remainder: bool, shuffle_seed: int | None = None):
    """(x, y) batches: from tensors for rows in memory; for memory-mapped rows, row numbers shuffled and
    batched, each batch's rows read from the file (in file order within the batch)."""
    tf = import_tensorflow()
    shuffle = (lambda d: d.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)) \
        if shuffle_seed is not None else (lambda d: d)
    if not x.mapped:
        return shuffle(tf.data.Dataset.from_tensor_slices((x.array(), y))).batch(batch_size, drop_remainder)
    targets = tf.nest.map_structure(tf.constant, y)
    shape = (batch_size if drop_remainder else None,) + x.shape[1:]
    dtype = tf.as_dtype(x.parts[0].dtype)

    def read(rows):
        rows = tf.sort(rows)
        inputs = tf.numpy_function(lambda r: x.take(r), [rows], dtype, stateful=False)
        inputs.set_shape(shape)
        return inputs, tf.nest.map_structure(lambda t: tf.gather(t, rows), targets)

    rows = shuffle(tf.data.Dataset.range(len(x))).batch(batch_size, drop_remainder)
    return rows.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

