"""search.pack: several trials' models trained in one step (`train_pack`).

The models of a pack share no weights, so the gradient of one model's loss reaches its own weights
alone: each model is stepped by its own optimizer (learning rate, kind, schedule), on the same batch,
in one traced function. A pack pays one trace, one call into TensorFlow per epoch and one validation
pass for all its models, where trials trained one by one pay each of these once per trial.

Each model keeps what a trial trained alone has: its own callbacks (early stopping, pruning, the NaN
check, the best-weights checkpoint, the cosine schedule), driven through a `CallbackList` of its own
with the model as theirs, its own Keras metrics, and its own `History`. A model that stops (early
stopping, pruning) or fails (its loss became NaN, an exception in one of its callbacks) leaves the
pack: its step is no longer called, its checkpoint is written, and the others go on. When every
model has left, the pack ends.

What may not differ inside one step is the batch: the models of a pack share the batch size and the
class weights (`pack_key`). The loop is nnlab's own (`PackSteps`), not `Model.fit`: Keras's multi-step
loop traces the train step twice, and its `fit` trains one model.

Keras's private names it needs are behind `engine.kerasprivate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nnlab.engine import kerasprivate
from nnlab.engine.backend import import_keras, import_tensorflow
from nnlab.engine.pack.fusedupdate import fused_update


def pack_key(params: dict) -> tuple:
    """What the trials of one pack must share: the batch (its size) and the weights of its rows
    (train.class_weight)."""
    return int(params["batch_size"]), str(params.get("class_weight", "none"))


@dataclass
class PackedModel:
    """One model of a pack: the trial it trains for, its compiled model, its callbacks, and its traced
    steps (`ModelSteps`: kept with the model by a `ModelPool`; None: made for this pack)."""

    trial_id: str
    model: object
    callbacks: list
    steps: ModelSteps | None = None
    history: object = None
    active: bool = True
    failure: BaseException | None = None
    epochs: int = 0  # epochs trained so far
    logs: dict = field(default_factory=dict)


def train_pack(packed_models: list[PackedModel], batches, validation, epochs: int, *, class_weight: dict | None = None,
               strategy=None, on_epoch_end: Callable | None = None) -> float:
    """Train the pack's models together for `epochs` epochs over `batches` (a `tf.data` dataset of one
    epoch), validated on `validation` after each. Each packed's `history`, `failure` and `epochs` are
    set; returns the seconds it took. A packed without `steps` gets its own for this pack (not XLA).
    `on_epoch_end(epoch, logs)`: after each epoch, with the first active packed's logs (a progress bar)."""
    keras = import_keras()
    started = time.monotonic()
    for packed in packed_models:
        packed.history = keras.callbacks.History()
        packed.callbacks = keras.callbacks.CallbackList(packed.callbacks + [packed.history], model=packed.model,
                                                        epochs=epochs, verbose=0)
    for packed in packed_models:
        if packed.steps is None:
            packed.steps = ModelSteps(packed.model, traced=strategy is None)
    steps = PackSteps([m.steps for m in packed_models], batches, class_weight, strategy)
    for packed in packed_models:
        _guarded(packed, packed.callbacks.on_train_begin)
    for epoch in range(epochs):
        live = [m for m in packed_models if m.active]
        if not live:
            break
        for packed in live:
            packed.model.reset_metrics()
            packed.model.stop_training = False
            _guarded(packed, packed.callbacks.on_epoch_begin, epoch)
        steps.set_active([m.active for m in packed_models])
        steps.train_epoch(batches)
        train_logs = {id(m): m.model.get_metrics_result() for m in packed_models if m.active}
        for packed in packed_models:
            packed.model.reset_metrics()
        steps.evaluate(validation)
        for packed in [m for m in packed_models if m.active]:
            logs = {**train_logs[id(packed)],
                    **{f"val_{k}": v for k, v in packed.model.get_metrics_result().items()}}
            packed.logs = {k: float(v) for k, v in logs.items()}
            packed.epochs = epoch + 1
            _guarded(packed, packed.callbacks.on_epoch_end, epoch, packed.logs)
            if packed.active and packed.model.stop_training:
                _finish(packed)
        shown = next((m.logs for m in packed_models if m.active or m.failure is None), None)
        if on_epoch_end is not None and shown is not None:
            on_epoch_end(epoch, shown)
    for packed in packed_models:
        if packed.active:
            _finish(packed)
    return time.monotonic() - started


def _guarded(packed: PackedModel, call: Callable, *args) -> None:
    """A packed's callback call; an exception in it (the NaN check's, a checkpoint's) fails that packed."""
    if not packed.active:
        return
    try:
        call(*args)
    except Exception as exc:  # noqa: BLE001 (any failure of one packed's is that packed's alone)
        packed.failure, packed.active = exc, False


def _finish(packed: PackedModel) -> None:
    """A packed leaves the pack: its optimizer's final values, its callbacks' end (the checkpoint)."""
    packed.active = False
    optimizer = getattr(packed.model, "optimizer", None)
    try:
        if optimizer is not None and packed.epochs:
            optimizer.finalize_variable_values(packed.model.trainable_weights)
        packed.callbacks.on_train_end(packed.logs)
    except Exception as exc:  # noqa: BLE001
        packed.failure = exc


class ModelSteps:
    """One model's training step and validation step. On one device each is a traced function of its
    own (XLA-compiled with train.jit_compile), which a pack's loop calls: kept with its model (a
    `ModelPool`), it is traced once and called by every pack the model trains in. Under a
    distribution strategy they are plain functions traced into the pack's loop (a gradient sum across
    replicas cannot sit inside a nested traced function)."""

    def __init__(self, model, jit_compile: bool = False, traced: bool = True):
        tf = import_tensorflow()
        self.model = model

        def train(x, y, sample_weight):
            return _train_step_of(model, x, y, sample_weight)

        def test(x, y):
            return _test_step_of(model, x, y)

        self.train = tf.function(train, jit_compile=jit_compile, autograph=False) if traced else train
        self.test = tf.function(test, jit_compile=jit_compile, autograph=False) if traced else test


class PackSteps:
    """The pack's traced functions: a whole epoch of training steps in one call, and a validation
    pass, each calling the step of every packed still in the pack. When a packed leaves, the two are
    traced again without it (cheap: they only call the packed_models' steps, traced already), so a packed
    that has left costs nothing more."""

    def __init__(self, packed_models: list[ModelSteps], batches, class_weight: dict | None, strategy):
        tf = import_tensorflow()
        self.packed_models, self.strategy = packed_models, strategy
        self.active = tuple(True for _ in packed_models)
        self._traced: dict[tuple, tuple] = {}  # packed_models in the pack → (training function, validation function)
        self._distributed: dict[int, tuple] = {}  # id(dataset) → (dataset, its distributed form)
        self.weights = None
        if class_weight:
            table = [class_weight.get(c, 1.0) for c in range(max(class_weight) + 1)]
            self.weights = tf.constant(table, dtype=tf.float32)
        _build_compiled_metrics([m.model for m in packed_models], batches)
        if strategy is not None:  # (Keras's `fit` under a strategy draws a batch to build its model: an iterator)
            self._iterator(batches)

    def set_active(self, flags: list[bool]) -> None:
        self.active = tuple(flags)

    def train_epoch(self, batches) -> None:
        self._functions()[0](self._iterator(batches))
        # Keras's `fit` makes a second iterator at each epoch's end (its epoch iterator looks ahead), and
        # with it a shuffled dataset draws its next order: so does the pack, for the same batches.
        self._iterator(batches)

    def evaluate(self, validation) -> None:
        self._functions()[1](self._iterator(validation))

    def _functions(self) -> tuple:
        if self.active not in self._traced:
            tf = import_tensorflow()
            live = [m for m, on in zip(self.packed_models, self.active) if on]
            train = tf.function(lambda iterator: self._loop(iterator, lambda batch: self._train_step(batch, live)),
                                autograph=False)
            test = tf.function(lambda iterator: self._loop(iterator, lambda batch: self._test_step(batch, live)),
                               autograph=False)
            self._traced[self.active] = (train, test)
        return self._traced[self.active]

    def _iterator(self, dataset):
        """An epoch's iterator, made as Keras's `fit` makes it (the dataset distributed once per
        training, through the strategy, the default one too), so that a shuffled dataset gives the same
        batches in a pack as in `fit`."""
        if id(dataset) not in self._distributed:
            strategy = self.strategy or import_tensorflow().distribute.get_strategy()
            self._distributed[id(dataset)] = (dataset, strategy.experimental_distribute_dataset(dataset))
        return iter(self._distributed[id(dataset)][1])

    def _loop(self, iterator, step) -> None:
        """Every batch of the iterator through `step` (one replica's step under a strategy), in one
        `tf.while_loop` traced once (AutoGraph's loop over a dataset traces its body twice)."""
        tf = import_tensorflow()

        def body(optional):
            batch = optional.get_value()
            if self.strategy is None:
                step(batch)
            else:
                self.strategy.run(step, args=(batch,))
            return (iterator.get_next_as_optional(),)

        tf.while_loop(lambda optional: optional.has_value(), body, (iterator.get_next_as_optional(),))

    def _train_step(self, batch, live: list[ModelSteps]) -> None:
        x, y = batch
        weights = self._row_weights(y)
        for packed in live:
            packed.train(x, y, weights)

    def _test_step(self, batch, live: list[ModelSteps]) -> None:
        x, y = batch
        for packed in live:
            packed.test(x, y)

    def _row_weights(self, y):
        """The rows' class weights (train.class_weight balanced), as Keras's `fit(class_weight=…)` makes them."""
        if self.weights is None:
            return None
        tf = import_tensorflow()
        classes = tf.cast(tf.round(tf.reshape(y, [-1])), tf.int32)
        return tf.gather(self.weights, classes)


def _train_step_of(model, x, y, sample_weight):
    """One packed's training step on a batch, as Keras's own `train_step` makes it for one model."""
    tf = import_tensorflow()
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
        kerasprivate.track_loss(model, loss, _rows(x))
        loss = model.optimizer.scale_loss(loss)
    weights = model.trainable_weights
    grads = tape.gradient(loss, weights)
    if not fused_update(model.optimizer, grads, weights):
        model.optimizer.apply_gradients(zip(grads, weights))
    model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
    return tf.constant(True)


def _test_step_of(model, x, y):
    tf = import_tensorflow()
    y_pred = model(x, training=False)
    loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=None, training=False)
    kerasprivate.track_loss(model, loss, _rows(x))
    model.compute_metrics(x, y, y_pred, sample_weight=None)
    return tf.constant(True)


def _rows(x):
    tf = import_tensorflow()
    first = x if not isinstance(x, (dict, list, tuple)) else tf.nest.flatten(x)[0]
    return tf.shape(first)[0]


def _build_compiled_metrics(models: list, batches) -> None:
    """Each model's compiled loss and metrics built for the batches' shapes before the step is traced
    (they are built lazily, on first use: inside the trace, that would create variables, and TensorFlow
    would then trace the step a second time). From the shapes alone: drawing a batch would advance a
    shuffled dataset's order."""
    x, y = batches.element_spec[:2]
    for model in models:
        kerasprivate.build_compiled(model, x, y)
