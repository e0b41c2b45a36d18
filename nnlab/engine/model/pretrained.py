"""`model.kind: pretrained`: a keras.applications base with a new head (transfer learning).

The model: pixels 0–255 (grey images repeated to three channels), resized up to the base's smallest
side where the images are smaller, augmentation as for `cnn`, the base's own `preprocess_input`, the
base without its top (global average pooling), called with `training=False`, then an optional dense
layer, dropout and the output. Its BatchNormalization layers stay frozen when it is fine-tuned (see
`fine_tune`).

Training has two phases (`Trainer` runs them, `fine_tune` switches): the base frozen while the new head
learns for `head_epochs` epochs; then, with `trainable_layers: N > 0`, the base's top N layers are
unfrozen and training goes on at `learning_rate × fine_tune_factor`.

Weights: `imagenet` through Keras's own loader and cache (~/.keras/models); `none`; or a file path.
`check_weights` fetches or reads them once before any training, and says what to do when it cannot.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from nnlab.data.shape import DataShape
from nnlab.engine.backend import import_keras
from nnlab.engine.model.blocks import augmentation, output
from nnlab.engine.model.files import load_weights
from nnlab.errors import NnlabError
from nnlab.spec.layers import IMAGENET_ALPHAS, PRETRAINED_BASES

BASE_NAME = "base"  # the base's layer name inside the model


def base_input(params: dict, input_shape: tuple) -> tuple[int, int, int]:
    """The image size the base sees: the data's, each side raised to the base's minimum."""
    smallest = PRETRAINED_BASES[params["base"]][1]
    return max(input_shape[0], smallest), max(input_shape[1], smallest), 3


def resize_note(base: str, input_shape: tuple) -> str | None:
    """The note when the images are smaller than a base takes."""
    height, width = input_shape[:2]
    size = base_input({"base": base}, input_shape)
    if size[:2] == (height, width):
        return None
    return (f"images are {height}×{width}; {base} takes at least {PRETRAINED_BASES[base][1]}×"
            f"{PRETRAINED_BASES[base][1]}: they are resized to {size[0]}×{size[1]} inside the model")


def make_base(params: dict, input_shape: tuple, weights: str | None = None):
    """The keras.applications base without its top, frozen. `weights`: None (the spec's), or "none"."""
    keras = import_keras()
    weights = params.get("weights", "imagenet") if weights is None else weights
    with warnings.catch_warnings():  # ("weights for input shape (224, 224) will be loaded": they fit any size)
        warnings.simplefilter("ignore", UserWarning)
        width = {"alpha": params["alpha"]} if params.get("alpha", 1.0) != 1.0 else {}  # (MobileNets only)
        base = getattr(keras.applications, params["base"])(
            include_top=False, weights="imagenet" if weights == "imagenet" else None,
            input_shape=base_input(params, input_shape), pooling="avg", **width)
    if weights not in ("imagenet", "none"):  # a file: through nnlab's one loader (as Keras would load it)
        load_weights(base, weights, "model.weights")
    base.trainable = False
    return base


def build_pretrained(params: dict, shape: DataShape):
    """The whole model (see the module's words)."""
    keras = import_keras()
    from keras import layers

    inputs = keras.Input(shape.input_shape)
    x = layers.Rescaling(255.0 * shape.rescale)(inputs)  # pixels 0–255, as the bases' preprocessing expects
    if shape.input_shape[-1] == 1:
        x = layers.Concatenate()([x, x, x])
    size = base_input(params, shape.input_shape)
    if size[:2] != tuple(shape.input_shape[:2]):
        x = layers.Resizing(size[0], size[1])(x)
    x = augmentation(x, params.get("augment"))
    module = getattr(keras.applications, PRETRAINED_BASES[params["base"]][0])
    x = module.preprocess_input(x)
    base = make_base(params, shape.input_shape)
    base.name = BASE_NAME
    x = base(x, training=False)
    if params["dense_units"]:
        x = layers.Dense(params["dense_units"], activation="relu")(x)
    if params["dropout"]:
        x = layers.Dropout(params["dropout"])(x)
    return keras.Model(inputs, output(x, shape), name="pretrained")


def fine_tune(model, layers: int) -> None:
    """Unfreeze the top `layers` layers of the model's base (phase 2); the rest stay frozen, and so do
    its BatchNormalization layers, as Keras's fine-tuning guide does: Keras 3.15 does not honour
    `base(x, training=False)` for a nested model during `fit` (checked: an unfrozen BatchNormalization
    there still updated its moving statistics), and a frozen one always runs in inference mode."""
    keras = import_keras()
    base = model.get_layer(BASE_NAME)
    base.trainable = True
    top = base.layers[-layers:] if layers else []
    for layer in base.layers:
        layer.trainable = any(layer is t for t in top) and not isinstance(layer, keras.layers.BatchNormalization)


def check_weights(bases, weights: str, input_shape: tuple, alphas=(1.0,)) -> None:
    """Fetch (imagenet) or read (a file) each base's weights once (at each MobileNet width of `alphas`),
    before any training; a clear error when that cannot be done. Keras caches what it downloads in
    ~/.keras/models."""
    if weights == "none":
        return
    if weights != "imagenet" and not Path(weights).is_file():
        raise NnlabError(f"model.weights: no weights file at {weights}; give the path of a file saved with "
                         "base.save_weights(...) for the same base without its top, or `imagenet` or `none`")
    for base, alpha in ((b, a) for b in bases for a in (alphas if b in IMAGENET_ALPHAS else (1.0,))):
        try:
            make_base({"base": base, "weights": weights, "alpha": alpha}, input_shape)
        except Exception as exc:  # Keras raises a plain Exception for a failed download
            raise NnlabError(_weights_message(base, weights, exc)) from None


def _weights_message(base: str, weights: str, exc: Exception) -> str:
    text = str(exc).strip()
    if weights != "imagenet":
        return (f"model.weights: {weights} could not be loaded into {base} without its top ({text[:300]}); save "
                f"the file from keras.applications.{base}(include_top=False, ...) with save_weights, or use "
                "`imagenet` or `none`")
    url = re.search(r"https?://\S+?\.h5", text)
    where = _keras_home() / "models"
    fetched = (f"download {url.group(0)} and put it in {where}/ (the file name as it is), " if url else
               f"download {base}'s 'notop' ImageNet weights file from Keras's storage into {where}/, ")
    return (f"model.weights imagenet: the ImageNet weights of {base} are not in Keras's cache and could not be "
            f"downloaded ({text.splitlines()[0][:200] if text else type(exc).__name__}). On a machine without "
            f"internet: {fetched}or set model.weights to the path of a weights file, or to `none` to train "
            "from a random start")


def _keras_home() -> Path:
    """Where Keras caches downloads: $KERAS_HOME, else ~/.keras (as keras.utils.get_file decides)."""
    return Path(os.environ.get("KERAS_HOME") or Path("~/.keras").expanduser())


def base_facts(bases, input_shape: tuple) -> list[tuple[str, int, str]]:
    """(name, parameters, input size) of each base, built without weights (for `nnlab validate`)."""
    facts = []
    for base in bases:
        size = base_input({"base": base}, input_shape)
        model = make_base({"base": base, "weights": "none"}, input_shape)
        facts.append((base, int(model.count_params()), f"{size[0]}×{size[1]}×3"))
    return facts
