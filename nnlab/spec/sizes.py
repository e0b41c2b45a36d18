"""How large a spec's models are, worked out without TensorFlow: parameters, the memory training needs
and the multiply-adds of a row's forward pass (search.pack auto), from the params and the data's
shape. `check_space` refuses a space whose largest model would not fit this machine's memory, before
any model is built (a Dense layer of 10⁹ units would otherwise crash TensorFlow in its first
allocation, minutes in).

The counts read the same description of an mlp's and a cnn's layers that `engine.model.builders` builds
(`spec.architecture`), each layer by the rule a `sequential` model's layers are counted with
(`spec.layersizes`), and equal Keras's `count_params` (a test builds models to check).
A `sequential` layer or argument without a rule gives no estimate (`None`): such a model is only
built, as before. A pretrained base is counted as its head and its input only: the bases are fixed
sizes that fit any machine nnlab runs on, and their activations are not estimated.

Memory is an estimate: 16 bytes a parameter (weights, gradients and two optimizer slots, in float32)
and 8 bytes for each value of each layer's output per row of a batch (kept for the backward pass, and
its gradient).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from nnlab.errors import shown
from nnlab.spec.architecture import cnn_body, mlp_body
from nnlab.spec.layersizes import RULES
from nnlab.spec.limits import MODEL_MEMORY, limit
from nnlab.spec.names import CATEGORY_EMBEDDING, FREQUENCIES, ONE_HOT_UP_TO, QUANTILES
from nnlab.spec.source import spec_source
from nnlab.spec.space import probe_params

BYTES_PER_PARAMETER = 16
BYTES_PER_ACTIVATION = 8


@dataclass(frozen=True)
class Size:
    parameters: int
    activations: int  # values of the layers' outputs for one row
    macs: int = 0  # multiply-adds of one row's forward pass (each weight once per output position)

    def bytes(self, batch: int) -> float:
        return float(self.parameters) * BYTES_PER_PARAMETER + float(self.activations) * BYTES_PER_ACTIVATION * batch


@dataclass(frozen=True)
class FeatureCounts:
    """A row of features as an MLP's front layers see it (`engine.tabular.features`): how many are numeric
    (None: all of them, a row of features that is not a table) and each categorical column's one-hot width."""

    numeric: int | None = None
    categories: tuple[int, ...] = ()


def transforms_numbers(params: dict) -> bool:
    """Whether an MLP's numeric features go through model.scaling or model.embedding layers (the rule
    `engine.tabular.features` builds by and this module counts by)."""
    return params.get("scaling", "standard") != "standard" or params.get("embedding", "none") != "none"


def embeds(params: dict, one_hot_width: int) -> bool:
    """Whether model.categorical embeds a categorical column of `one_hot_width` one-hot inputs."""
    return params.get("categorical", "onehot") == "embedding" and one_hot_width > ONE_HOT_UP_TO


def model_size(kind: str, params: dict, input_shape: tuple, outputs: int,
               features: FeatureCounts | None = None) -> Size | None:
    """The size of the model the builder makes from `params` for inputs of `input_shape` and `outputs`
    output units in all (several targets: their sum); None where there is no rule. `features`: what the
    inputs are (model.scaling, model.embedding, model.categorical; None: all numeric)."""
    counter = _Counter(tuple(input_shape))
    try:
        if kind == "mlp":
            counter.mlp(params, features or FeatureCounts())
        elif kind == "cnn":
            counter.cnn(params)
        elif kind == "sequential":
            if not counter.sequential(params["layers"]):
                return None
        elif kind == "pretrained":
            counter.pretrained(params)
        else:
            return None
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None  # (an argument the rules do not know: Keras will say what is wrong with it)
    counter.output(outputs)
    return Size(counter.parameters, counter.activations, counter.macs)


class _Counter:
    """Walks a model's layers, keeping the current output shape (without the batch) and the totals."""

    def __init__(self, shape: tuple):
        self.shape, self.parameters, self.activations, self.macs = shape, 0, math.prod(shape), 0
        self.members = False  # model.members: a member axis before the features

    def out(self, shape: tuple, params: int = 0, tensors: int = 1) -> None:
        if any(d < 1 for d in shape):
            raise ValueError(f"a layer's output would have the shape {shape}")
        self.shape = tuple(int(d) for d in shape)
        self.parameters += int(params)
        self.activations += tensors * math.prod(self.shape)
        self.macs += int(params) * math.prod(self.shape[:-1])  # (a dense layer: once; a convolution: per position)

    def flatten(self) -> None:
        if len(self.shape) > 1:
            self.out((math.prod(self.shape),))

    def dense(self, units: int, bias: bool = True, keep: bool = True) -> None:
        *rest, last = self.shape
        self.out((*rest, units), last * units + (units if bias else 0), tensors=1 if keep else 0)

    def batch_norm(self) -> None:
        self.out(self.shape, 4 * self.shape[-1])

    # ---- nnlab's builders

    def output(self, units: int) -> None:
        """The output layer: one Dense, or each member's own (model.members: the shape is members × width)."""
        if len(self.shape) == 2 and self.members:
            members, width = self.shape
            self.out((members, units), members * (width * units + units), tensors=0)
        else:
            self.dense(units, bias=True, keep=False)

    def mlp(self, params: dict, features: FeatureCounts) -> None:
        if len(self.shape) == 1:
            self.front(params, self.shape[0] if features.numeric is None else features.numeric, features.categories)
        self.flatten()
        members = int(params.get("members", 1))
        if members > 1:  # engine.tabular.members: each member's scales of the inputs
            self.members = True
            self.out((members, self.shape[0]), members * self.shape[0])
        self.layers(mlp_body(params))

    def front(self, params: dict, numeric: int, categories: tuple[int, ...]) -> None:
        """engine.tabular.features' layers: a frozen selection of each part of the row (the numeric features, each
        embedded categorical column, the rest), the numeric scaling's frozen figures and embedding's
        weights, each embedded column's learned numbers."""
        numeric = numeric if transforms_numbers(params) else 0
        embedded = [w for w in categories if embeds(params, w)]
        if not numeric and not embedded:
            return
        width = self.shape[0]
        rest = width - numeric - sum(embedded)
        parameters = width * width + sum(embedded) * CATEGORY_EMBEDDING  # (the selections: width × each part)
        numeric_out, tensors = self._numeric(params, numeric)
        parameters += tensors[0]
        out = numeric_out + CATEGORY_EMBEDDING * len(embedded) + rest
        self.out((out,), parameters, tensors=0)
        self.activations += tensors[1] + numeric + sum(embedded) + CATEGORY_EMBEDDING * len(embedded) + rest + out

    @staticmethod
    def _numeric(params: dict, numeric: int) -> tuple[int, tuple[int, int]]:
        """engine.tabular.numeric's layers on `numeric` features: (their output width, (parameters, activations))."""
        scaling, embedding = params.get("scaling", "standard"), params.get("embedding", "none")
        size, bins = int(params.get("embedding_size", 16)), QUANTILES - 1
        if embedding == "piecewise":
            parameters = 2 * numeric * bins + 2 * numeric * size + numeric * bins * size
            return numeric * size, (parameters, 3 * numeric * bins + 4 * numeric * size)
        parameters = {"robust": 2 * numeric, "quantile": 3 * numeric * bins + numeric}.get(scaling, 0)
        tensors = {"robust": 2 * numeric, "quantile": 2 * numeric * bins + numeric}.get(scaling, 0)
        if embedding == "periodic":
            parameters += numeric * FREQUENCIES + numeric * 2 * FREQUENCIES * size + numeric * size
            return numeric * size, (parameters, tensors + 5 * numeric * FREQUENCIES + 3 * numeric * size)
        return numeric, (parameters, tensors)

    def cnn(self, params: dict) -> None:
        self.out(self.shape)  # rescaling
        self.layers(cnn_body(params))

    def pretrained(self, params: dict) -> None:
        self.out((2560,))  # the widest pooled features of a base (EfficientNetB7)
        self.parameters = self.activations = 0
        if params["dense_units"]:
            self.dense(params["dense_units"])

    def layers(self, layers: list) -> bool:
        """Each layer counted by its rule (`spec.layersizes`); False at the first without one."""
        for name, args in layers:
            rule = RULES.get(name)
            if rule is None or not rule(self, dict(args)):
                return False
        return True

    def sequential(self, layers: list) -> bool:
        if not self.layers(layers):
            return False
        self.flatten()
        return True


# ------------------------------------------------------------------------------------ the check


def memory_limit() -> tuple[float, str]:
    """The most bytes the largest model may need, and how the figure was chosen (for the message)."""
    gigabytes = limit(MODEL_MEMORY)
    if gigabytes is not None:
        return gigabytes * 1024**3, f"{MODEL_MEMORY[0]}={gigabytes:g}"
    total = machine_memory()
    return 0.75 * total, f"3/4 of this machine's {total / 1024**3:.1f} GiB"


def machine_memory() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # (not on every system)
        return 16 * 1024**3


def largest(spec, input_shape: tuple, outputs: int, rows: int,
            features: FeatureCounts | None = None) -> tuple[float, Size, dict] | None:
    """The most memory a model of the space needs to train (bytes), its size and params: over both
    corners of the space and a few seeded random points; None when a model has no estimate."""
    found = None
    for params in probe_params(spec):
        size = model_size(spec.model.kind, params, input_shape, outputs, features)
        if size is None:
            return None
        need = size.bytes(max(1, min(int(params["batch_size"]), rows)))
        if found is None or need > found[0]:
            found = (need, size, params)
    return found


def check_space(spec, input_shape: tuple, outputs: int, rows: int, features: FeatureCounts | None = None) -> None:
    """Refuse (SpecError) a space whose largest model needs more memory to train than the limit."""
    found = largest(spec, input_shape, outputs, rows, features)
    if found is None:
        return
    need, size, params = found
    most, why = memory_limit()
    if need <= most:
        return
    batch = max(1, min(int(params["batch_size"]), rows))
    weights = size.parameters * float(BYTES_PER_PARAMETER)
    raise spec_source(spec).error(("model",), (
        f"the largest model this spec allows ({_values(spec.model.kind, params)}, batch_size={params['batch_size']}) "
        f"has {size.parameters:,} parameters and needs about {_gib(need)} of memory to train ({_gib(weights)} "
        f"for its weights, gradients and optimizer state, {_gib(need - weights)} for a batch of {batch} rows); "
        f"the limit is {_gib(most)} ({why}). Make the model smaller, or set {MODEL_MEMORY[0]} (in GiB) to raise "
        "the limit"))


def _values(kind: str, params: dict) -> str:
    """The params that make a model large, for the message."""
    if kind == "sequential":
        sized = [f"{name}({', '.join(f'{k}={v}' for k, v in args.items() if k in _LAYER_SIZE_ARGS)})"
                 for name, args in params["layers"] if any(k in _LAYER_SIZE_ARGS for k in args)]
        return ", ".join(sized[:4] + (["…"] if len(sized) > 4 else [])) or f"{len(params['layers'])} layers"
    return ", ".join(f"{k}={shown(params[k])}" for k in _SIZE_KEYS.get(kind, ()) if k in params)


_LAYER_SIZE_ARGS = ("units", "filters", "kernel_size", "target_shape", "size", "height", "width")
_SIZE_KEYS = {"mlp": ("units",), "cnn": ("conv_blocks", "filters", "kernel_size", "dense_layers", "dense_units"),
              "pretrained": ("dense_units",)}


def _gib(size: float) -> str:
    gib = size / 1024**3
    return f"{gib:,.1f} GiB" if gib < 1e6 else f"{gib:.2g} GiB"
