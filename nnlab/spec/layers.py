"""The Keras names a spec may use: the keras.applications bases of a `pretrained` model, and the
keras.layers classes of a `sequential` model (with the ones refused, and why), and the reading of a
`sequential` model's list of layers. The schema (`spec.schema`) takes its fields' values from here.
"""

from __future__ import annotations

from typing import Any

from nnlab.errors import did_you_mean, shown
from nnlab.spec.limits import MAX_SEQUENTIAL_LAYERS

# keras.applications bases a `pretrained` model may name: their module (for preprocess_input) and the
# smallest image side each accepts. (A test checks every name against Keras.)
PRETRAINED_BASES = {
    "MobileNet": ("mobilenet", 32), "MobileNetV2": ("mobilenet_v2", 32),
    "MobileNetV3Small": ("mobilenet_v3", 32), "MobileNetV3Large": ("mobilenet_v3", 32),
    **{f"EfficientNetB{i}": ("efficientnet", 32) for i in range(8)},
    **{f"EfficientNetV2B{i}": ("efficientnet_v2", 32) for i in range(4)},
    "EfficientNetV2S": ("efficientnet_v2", 32),
    "ResNet50": ("resnet50", 32), "ResNet101": ("resnet", 32), "ResNet152": ("resnet", 32),
    "ResNet50V2": ("resnet_v2", 32), "ResNet101V2": ("resnet_v2", 32), "ResNet152V2": ("resnet_v2", 32),
    "VGG16": ("vgg16", 32), "VGG19": ("vgg19", 32),
    "DenseNet121": ("densenet", 32), "DenseNet169": ("densenet", 32), "DenseNet201": ("densenet", 32),
    "ConvNeXtTiny": ("convnext", 32), "ConvNeXtSmall": ("convnext", 32),
    "Xception": ("xception", 71), "InceptionV3": ("inception_v3", 75), "InceptionResNetV2": ("inception_resnet_v2", 75),
}

# The MobileNet bases' width multiplier (model.alpha), and those Keras has ImageNet weights for.
IMAGENET_ALPHAS = {"MobileNet": (0.25, 0.5, 0.75, 1.0), "MobileNetV2": (0.35, 0.5, 0.75, 1.0, 1.3, 1.4),
                   "MobileNetV3Small": (0.75, 1.0), "MobileNetV3Large": (0.75, 1.0)}


# Layer classes of keras.layers a `sequential` model may name (tests check each exists in Keras).
KERAS_LAYERS = (
    "Dense", "Dropout", "BatchNormalization", "LayerNormalization", "Activation", "ReLU", "LeakyReLU", "ELU",
    "PReLU", "Softmax", "Flatten", "Reshape", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D",
    "DepthwiseConv2D", "Conv2DTranspose", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
    "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "SpatialDropout1D", "SpatialDropout2D", "ZeroPadding2D",
    "Cropping2D", "UpSampling2D", "Rescaling", "RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast",
    "RandomTranslation", "RandomBrightness", "Resizing", "CenterCrop", "UnitNormalization",
)

REFUSED_LAYERS = {  # Keras layers a user may reach for, and why nnlab refuses them
    "RandomCrop": "Keras 3 crops in training only and passes the whole image through at validation, so the "
                  "layers after it get another shape; use CenterCrop or Resizing, with RandomTranslation or "
                  "RandomZoom to augment",
    "Lambda": "a spec runs no code",
}


def parse_layers(value: Any) -> list[dict]:
    """[{Name: {argument: value or search space}}, …] with each search space parsed."""
    from nnlab.spec.kinds import parse_any_space

    if not isinstance(value, list) or not value:
        raise ValueError("expected a list of layers, e.g. [{Dense: {units: 64, activation: relu}}, {Dropout: "
                         "{rate: 0.2}}]")
    if len(value) > MAX_SEQUENTIAL_LAYERS:
        raise ValueError(f"{len(value)} layers: a sequential model takes at most {MAX_SEQUENTIAL_LAYERS}")
    layers = []
    for i, entry in enumerate(value):
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ValueError(f"layers[{i}]: expected one layer as {{Name: {{argument: value}}}}; found {shown(entry)}")
        ((name, args),) = entry.items()
        if name in REFUSED_LAYERS:
            raise ValueError(f"layers[{i}]: {name} is not a Keras layer nnlab accepts: {REFUSED_LAYERS[name]}")
        if name not in KERAS_LAYERS:
            raise ValueError(f"layers[{i}]: {shown(name)} is not a Keras layer nnlab accepts"
                             f"{did_you_mean(name, KERAS_LAYERS)}"
                             f"; accepted: {', '.join(KERAS_LAYERS)}")
        args = {} if args is None else args
        if not isinstance(args, dict):
            raise ValueError(f"layers[{i}] {name}: expected its arguments as a mapping; found {shown(args)}")
        parsed = {}
        for arg, arg_value in args.items():
            if arg in ("name", "input_shape", "dtype"):
                raise ValueError(f"layers[{i}] {name}: nnlab sets `{arg}` itself; leave it out")
            try:
                parsed[str(arg)] = parse_any_space(arg_value) if isinstance(arg_value, dict) else arg_value
            except ValueError as exc:
                raise ValueError(f"layers[{i}] {name}.{arg}: {exc}") from None
        layers.append({name: parsed})
    return layers


# A layer as the JSON Schema shows it to editors: a bare name, or {Name: {argument: value}}.
LAYER_SCHEMA = {"anyOf": [
    {"type": "string", "enum": list(KERAS_LAYERS)},
    {"type": "object", "minProperties": 1, "maxProperties": 1, "propertyNames": {"enum": list(KERAS_LAYERS)},
     "additionalProperties": {"anyOf": [{"type": "object"}, {"type": "null"}]}},
]}
