"""Model builders: plain params → a compiled Keras model.

`build_model(kind, params, shape)` builds an MLP or a CNN from a dict of concrete values (no tuner
involved) and `compile_model` picks the optimizer, loss and metrics. The output layer follows the
task: softmax for several classes, sigmoid for two, a linear unit for regression whose bias starts at
the mean training target (the loss keeps plain Keras' scale, so every optimizer behaves as it would in
a hand-written script). A target fitted transformed (data.target_transform) is turned back into its
own units by the metrics while training and by layers after the output in the saved model
(`in_target_units`). Every layer is a stock Keras layer:
`best.keras` loads with `keras.saving.load_model` and no nnlab installed.

Keras is imported inside the functions, never at module level.
"""

from __future__ import annotations

import warnings

from nnlab.data.rules import LOG_CEILING, TargetTransform
from nnlab.data.shape import DataShape
from nnlab.engine.backend import import_keras
from nnlab.engine.model.blocks import augmentation, output
from nnlab.engine.tabular.features import feature_layers
from nnlab.engine.tabular.members import (
    has_members,
    member_output,
    member_views,
    members_mean,
    memberwise_loss,
    on_members_mean,
)
from nnlab.spec.architecture import cnn_body, mlp_body
from nnlab.spec.names import LOSSES, OPTIMIZERS, REGRESSION_METRICS, VALIDATION_ONLY_METRICS


def build_model(kind: str, params: dict, shape: DataShape):
    """An uncompiled Keras model of the given kind (with train.loss poisson, its regression outputs are
    rates: see `DataShape.for_counts`)."""
    if params.get("loss") == "poisson":
        shape = shape.for_counts()
    if kind == "pretrained":
        from nnlab.engine.model.pretrained import build_pretrained

        return build_pretrained(params, shape)
    return {"mlp": build_mlp, "cnn": build_cnn, "sequential": build_sequential}[kind](params, shape)


def build_mlp(params: dict, shape: DataShape):
    """Dense layers of `params["units"]` (one width per hidden layer) on flattened inputs, a table's
    columns first scaled and embedded as model.scaling, .embedding and .categorical say (`engine.tabular.features`)."""
    keras = import_keras()
    from keras import layers

    inputs = keras.Input(shape.input_shape)
    x = inputs
    if len(shape.input_shape) > 1:
        if shape.rescale != 1.0:
            x = layers.Rescaling(shape.rescale)(x)
        x = layers.Flatten()(x)
    x = feature_layers(x, params, shape)  # (model.scaling, model.embedding, model.categorical)
    members = int(params.get("members", 1))
    if members > 1:  # model.members: TabM-mini's K views of each row (engine.tabular.members)
        x = member_views(x, members, embedded=params.get("embedding", "none") != "none")
    x = _built(x, mlp_body(params))
    out = member_output(x, shape, members) if members > 1 else output(x, shape)
    return keras.Model(inputs, out, name="mlp")


def build_sequential(params: dict, shape: DataShape):
    """The spec's own layers (`params["layers"]`: [[name, arguments], …]) between nnlab's input (with
    pixel scaling for images) and its output layer; a Flatten before the output where still needed.
    A layer that cannot be made or does not fit its input is a `SpecError` naming it."""
    keras = import_keras()
    from keras import layers

    from nnlab.errors import SpecError, first_line

    inputs = keras.Input(shape.input_shape)
    x = inputs
    if len(shape.input_shape) > 1 and shape.rescale != 1.0:
        x = layers.Rescaling(shape.rescale)(x)
    for i, (name, args) in enumerate(params["layers"]):
        where = f"model.layers[{i}] {name}"
        try:
            layer = getattr(layers, name)(**args)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"{where}: {first_line(exc)}") from None
        try:
            x = layer(x)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"{where} does not fit its input of shape {tuple(x.shape)}: {first_line(exc)}") from None
    if len(x.shape) > 2:
        x = layers.Flatten()(x)
    return keras.Model(inputs, output(x, shape), name="sequential")



def build_cnn(params: dict, shape: DataShape):
    """Convolution blocks (conv, [batch norm], activation, pooling), then dense layers
    (`spec.architecture.cnn_body`)."""
    keras = import_keras()
    from keras import layers

    inputs = keras.Input(shape.input_shape)
    x = layers.Rescaling(shape.rescale)(inputs)
    x = augmentation(x, params.get("augment"))
    x = _built(x, cnn_body(params))
    return keras.Model(inputs, output(x, shape), name="cnn")


def _built(x, body: list):
    """The layers of `spec.architecture`'s description, applied in order (a number given as a Dense
    layer's kernel_regularizer is its L2 factor)."""
    keras = import_keras()

    for name, args in body:
        if args.get("kernel_regularizer") is not None:
            args = {**args, "kernel_regularizer": keras.regularizers.L2(args["kernel_regularizer"])}
        x = getattr(keras.layers, name)(**args)(x)
    return x


# Keras's random augmentation layers augment whenever they are called without `training=False`, as a
# plain `model(x)` or a SavedModel's serving function calls them; an inference model has none.
AUGMENTATION_LAYERS = ("RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast", "RandomTranslation",
                       "RandomBrightness")


def inference_model(model):
    """The model as it predicts: each random augmentation layer replaced by an Identity layer (what it
    does at inference), and a model of model.members the mean of its members. The other layers are
    shared, weights and all, so the result predicts exactly as `model.predict` does (its members'
    mean), however it is called or exported."""
    keras = import_keras()
    if has_members(model):
        model = members_mean(model)
    if not any(type(layer).__name__ in AUGMENTATION_LAYERS for layer in model.layers):
        return model

    def replace(layer):
        if type(layer).__name__ in AUGMENTATION_LAYERS:
            return keras.layers.Identity(name=layer.name)
        return layer

    return keras.models.clone_model(model, clone_function=replace)


def compile_model(model, params: dict, shape: DataShape, loss: str | None, metrics: list[str],
                  jit_compile: bool = False, steps_per_execution: int = 1, optimizer=None) -> None:
    """Optimizer, loss and metrics by name. Metric names are those nnlab logs (accuracy, f1, mae, …).
    `optimizer`: keep this one (a trained model compiled again) instead of making a new one."""
    keras = import_keras()
    if optimizer is None:
        optimizer_class = getattr(keras.optimizers, OPTIMIZERS[params["optimizer"]].keras)
        extra = {"momentum": 0.9} if params["optimizer"] == "sgd" else {}
        if params.get("weight_decay") is not None:  # (left out: Keras's own default)
            extra["weight_decay"] = params["weight_decay"]
        optimizer = optimizer_class(learning_rate=params["learning_rate"], **extra)
    loss = params.get("loss", loss)  # (train.loss may be searched)
    members = int(params.get("members", 1)) if has_members(model) else 1
    smoothing = float(params.get("label_smoothing") or 0.0)
    if shape.heads:  # one loss and its metrics per target's output
        pairs = {head: _loss_and_metrics(head_shape, loss, metrics, members, smoothing)
                 for head, head_shape in shape.heads}
        loss_fn, compiled = {h: p[0] for h, p in pairs.items()}, {h: p[1] for h, p in pairs.items()}
    else:
        loss_fn, compiled = _loss_and_metrics(shape, loss, metrics, members, smoothing)
    with warnings.catch_warnings():  # (nnlab says it once, in the run's header: see placement._xla_kept)
        warnings.filterwarnings("ignore", message="Model doesn't support `jit_compile=True`")
        model.compile(optimizer=optimizer, loss=loss_fn, metrics=compiled, jit_compile=jit_compile,
                      steps_per_execution=steps_per_execution)
    # Without a distribution strategy Keras creates the optimizer's variables while tracing the
    # train step, and TensorFlow then traces the whole step a second time. Built here, it is traced
    # once, and a small model's first epoch is that much shorter.
    model.optimizer.build(model.trainable_variables)  # (a loss-scaling wrapper under mixed precision)


def _loss_and_metrics(shape: DataShape, loss: str | None, metrics: list[str], members: int = 1,
                      smoothing: float = 0.0) -> tuple:
    """The loss and the Keras metrics of one output; of a model of model.members, the mean of the
    members' losses and the metrics of their mean prediction. `smoothing`: train.label_smoothing."""
    loss_fn, compiled = _stock_loss_and_metrics(shape, loss, metrics, smoothing)
    if members > 1:
        return memberwise_loss(loss_fn, members), [on_members_mean(m) for m in compiled]
    return loss_fn, compiled


def _stock_loss_and_metrics(shape: DataShape, loss: str | None, metrics: list[str], smoothing: float = 0.0) -> tuple:
    keras = import_keras()
    if shape.task == "classification":
        from nnlab.engine.model.metrics import classification_metric

        loss_fn = "binary_crossentropy" if shape.binary else "sparse_categorical_crossentropy"
        if smoothing:
            loss_fn = smoothed_crossentropy(shape, smoothing)
        accuracy = keras.metrics.BinaryAccuracy if shape.binary else keras.metrics.SparseCategoricalAccuracy
        return loss_fn, [accuracy(name="accuracy")] + [classification_metric(m, shape.num_classes, shape.binary)
                                                       for m in metrics if m in VALIDATION_ONLY_METRICS]
    meaning = LOSSES[loss or "mse"].keras or LOSSES["mse"].keras  # (crossentropy for a regression: mse)
    loss_fn = getattr(keras.losses, meaning)()
    known = {name: getattr(keras.metrics, m.keras) for name, m in REGRESSION_METRICS.items()}
    if shape.transform is not None:
        known = {name: _in_target_units(metric, shape.transform) for name, metric in known.items()}
    return loss_fn, [known[m](name=m) for m in metrics if m in known]


def smoothed_crossentropy(shape: DataShape, smoothing: float):
    """train.label_smoothing: Keras's binary crossentropy with its own label_smoothing; for several
    classes, the crossentropy against (1 - smoothing) · one-hot + smoothing / classes (Keras's sparse
    crossentropy has no smoothing)."""
    keras = import_keras()
    if shape.binary:
        return keras.losses.BinaryCrossentropy(label_smoothing=smoothing)
    ops, classes = keras.ops, shape.num_classes

    class SmoothedCrossentropy(keras.losses.Loss):
        def call(self, y_true, y_pred):
            if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
                y_true = ops.squeeze(y_true, -1)
            target = ops.one_hot(ops.cast(y_true, "int32"), classes) * (1.0 - smoothing) + smoothing / classes
            return keras.losses.categorical_crossentropy(target, y_pred)

    return SmoothedCrossentropy(name="smoothed_crossentropy")


def _in_target_units(metric_class, transform: TargetTransform):
    """A stock regression metric of the outputs and targets turned back into the target's own units
    (the model fits them transformed: data.target_transform)."""
    ops = import_keras().ops

    def undo(values):
        if transform.kind == "log":
            return ops.expm1(ops.minimum(values, LOG_CEILING))
        return values * transform.std + transform.mean

    class InTargetUnits(metric_class):
        def update_state(self, y_true, y_pred, sample_weight=None):
            return super().update_state(undo(y_true), undo(y_pred), sample_weight)

    InTargetUnits.__name__ = metric_class.__name__
    return InTargetUnits


def in_target_units(model, shape: DataShape):
    """The model with stock layers after each transformed regression output that turn it back into
    the target's own units (data.target_transform: log → exp(z) - 1, its log capped at LOG_CEILING;
    standardize → z · std + mean); the model itself when no target is transformed."""
    if not shape.transformed:
        return model
    keras = import_keras()
    from keras import layers

    def undo(output, head: DataShape, name: str):
        t = head.transform
        if t is None:
            return output
        if t.kind == "log":
            output = layers.ReLU(max_value=LOG_CEILING, negative_slope=1.0, dtype="float32",
                                 name=f"{name}_log_cap")(output)  # min(z, ceiling)
            output = layers.Activation("exponential", dtype="float32", name=f"{name}_exp")(output)
            return layers.Rescaling(1.0, offset=-1.0, dtype="float32", name=f"{name}_in_units")(output)
        return layers.Rescaling(t.std, offset=t.mean, dtype="float32", name=f"{name}_in_units")(output)

    if shape.heads:
        outputs = {name: undo(model.output[name], head, name) for name, head in shape.heads}
    else:
        outputs = undo(model.output, shape, "output")
    return keras.Model(model.inputs, outputs, name=model.name)


def for_saving(model, params: dict, shape: DataShape, loss: str | None, metrics: list[str], ensembled: list = ()):
    """The model as `best.keras` holds it: in inference form (`inference_model`), compiled with stock
    Keras metrics only (nnlab's own left out), so `keras.saving.load_model` needs no nnlab. `ensembled`:
    search.ensemble's models, {trial_id: model}, averaged into one (`model` is then the best of them)."""
    if ensembled:
        saved = average_of([in_target_units(inference_model(m), shape) for m in ensembled.values()],
                           [f"trial_{trial_id}" for trial_id in ensembled])
    else:
        saved = in_target_units(inference_model(model), shape)
    optimizer = model.optimizer if getattr(model, "optimizer", None) is not None and not ensembled else None
    stock = [m for m in metrics if m not in VALIDATION_ONLY_METRICS]
    plain = {**params, "label_smoothing": 0.0}  # (Keras's own losses only)
    compile_model(saved, plain, shape.in_own_units(), loss, stock, optimizer=optimizer)
    return saved


def average_of(ensembled: list, names: list[str]):
    """search.ensemble: one model whose output is the mean of the `ensembled`' outputs (each in inference
    form and in the target's units: probabilities for classes, values for regression; per output with
    several targets). Each is kept whole inside it as a sub-model named by `names`."""
    keras = import_keras()
    from keras import layers

    inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype, name=f"input_{i}")
              for i, t in enumerate(ensembled[0].inputs)]
    given = inputs[0] if len(inputs) == 1 else inputs
    outputs = [keras.Model(m.inputs[0] if len(m.inputs) == 1 else m.inputs, m.output, name=name)(given)
               for m, name in zip(ensembled, names)]
    if isinstance(outputs[0], dict):
        mean = {key: layers.Average(dtype="float32", name=f"{key}_mean")([o[key] for o in outputs])
                for key in outputs[0]}
    else:
        mean = layers.Average(dtype="float32", name="ensemble_mean")(outputs)
    return keras.Model(given, mean, name="ensemble")
