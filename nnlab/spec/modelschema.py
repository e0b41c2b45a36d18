"""The spec's `model` section: one of four kinds by `model.kind`, each with its searchable fields
(`spec.space`). Part of the spec schema (`spec.schema`), which re-exports everything here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema, field_validator, model_validator

from nnlab.spec.kinds import searchable
from nnlab.spec.layers import IMAGENET_ALPHAS, LAYER_SCHEMA, PRETRAINED_BASES, parse_layers
from nnlab.spec.limits import MAX_CONV_BLOCKS, MAX_LAYERS, MAX_MEMBERS
from nnlab.spec.names import (
    ACTIVATIONS,
    CATEGORICAL_ENCODINGS,
    CATEGORY_EMBEDDING,
    NUMERIC_EMBEDDINGS,
    NUMERIC_SCALINGS,
    ONE_HOT_UP_TO,
)
from nnlab.spec.section import Section


class MlpModel(Section):
    kind: Literal["mlp"] = Field(description="A multi-layer perceptron (dense layers).")
    layers: searchable(int, ge=1, le=MAX_LAYERS) = Field(2, description="Number of hidden layers (at most 100).")
    units: searchable(int, ge=1) = Field(64, description="Units per hidden layer.")
    per_layer: bool = Field(False, description="Search `units` separately per layer (units_0, units_1, …).")
    activation: searchable(str, options=ACTIVATIONS) = Field("relu", description="Hidden activation.")
    dropout: searchable(float, ge=0, lt=1) = Field(0.0, description="Dropout after each hidden layer.")
    batch_norm: searchable(bool) = Field(False, description="Batch normalization after each hidden layer.")
    l2: searchable(float, ge=0) = Field(0.0, description="L2 weight penalty of the hidden layers.")
    scaling: searchable(str, options=NUMERIC_SCALINGS) = Field(
        "standard", description="The numeric features: standard (as prepared: minus the mean, over the deviation), "
                                "robust (minus the median, over the interquartile range, smoothly clipped to about ±3) "
                                "or quantile (each value's training quantile sent to a normal's); inside the model.")
    embedding: searchable(str, options=NUMERIC_EMBEDDINGS) = Field(
        "none", description="Each numeric feature as a vector: none, periodic (learned frequencies, cos and sin, a "
                            "linear layer: PLR) or piecewise (a piecewise-linear encoding over 32 quantile bins, "
                            "then a linear layer); inside the model.")
    embedding_size: searchable(int, ge=1, le=1024) = Field(
        16, description="The numbers per numeric feature with an embedding.")
    categorical: searchable(str, options=CATEGORICAL_ENCODINGS) = Field(
        "onehot", description=f"The categorical columns: onehot (one input per value, as prepared) or embedding (a "
                              f"column of more than {ONE_HOT_UP_TO} one-hot columns becomes {CATEGORY_EMBEDDING} "
                              "learned numbers per value; fewer stay one-hot); inside the model.")
    members: searchable(int, ge=1, le=MAX_MEMBERS) = Field(
        1, description="K > 1: an efficient ensemble of K members inside the one model (TabM-mini): shared hidden "
                       "layers, each member its own input scales and output, trained on the mean of their losses, "
                       "predicting their mean.")


class Augment(Section):
    flip: Literal["horizontal", "vertical", "horizontal_and_vertical"] | None = Field(
        None, description="Random flips."
    )
    rotation: float = Field(0.0, ge=0, le=1, description="Random rotation, as a fraction of a full turn.")
    zoom: float = Field(0.0, ge=0, lt=1, description="Random zoom, as a fraction of the size.")
    contrast: float = Field(0.0, ge=0, le=1, description="Random contrast change.")


class CnnModel(Section):
    kind: Literal["cnn"] = Field(description="A convolutional network for images.")
    conv_blocks: searchable(int, ge=1, le=MAX_CONV_BLOCKS) = Field(
        2, description="Convolution blocks (conv + pooling; at most 20).")
    filters: searchable(int, ge=1) = Field(32, description="Filters of the first block.")
    filter_growth: float = Field(2.0, ge=1, description="Factor on the filters from one block to the next.")
    kernel_size: searchable(int, ge=1, le=15) = Field(3, description="Convolution kernel size.")
    activation: searchable(str, options=ACTIVATIONS) = Field("relu", description="Activation.")
    pooling: searchable(str, options=("max", "avg")) = Field("max", description="Pooling after each block.")
    batch_norm: searchable(bool) = Field(False, description="Batch normalization after each convolution.")
    separable: searchable(bool) = Field(False, description="Blocks after the first depthwise-separable "
                                                           "(MobileNet-style): far fewer weights and multiply-adds.")
    global_pooling: searchable(bool) = Field(False, description="Global average pooling instead of flatten.")
    dense_layers: searchable(int, ge=0, le=MAX_LAYERS) = Field(
        1, description="Dense layers before the output (at most 100).")
    dense_units: searchable(int, ge=1) = Field(64, description="Units of each dense layer.")
    dropout: searchable(float, ge=0, lt=1) = Field(0.0, description="Dropout before each dense layer.")
    augment: Augment = Field(default_factory=Augment, description="Training-time augmentation.")


class PretrainedModel(Section):
    kind: Literal["pretrained"] = Field(description="A base network from keras.applications, pretrained (transfer "
                                                    "learning), with a new head for the task.")
    base: searchable(str, options=tuple(PRETRAINED_BASES)) = Field(
        description="The base's name in keras.applications (MobileNetV3Small, EfficientNetB0, ResNet50, …).")
    weights: str = Field("imagenet", description="imagenet (downloaded once by Keras into ~/.keras/models), none "
                                                 "(random start), or the path of a weights file for the base "
                                                 "without its top, relative to the spec.")
    trainable_layers: searchable(int, ge=0) = Field(
        0, description="0: the base stays frozen. N: after head_epochs, the base's top N layers are fine-tuned.")
    head_epochs: int = Field(3, ge=1, description="Epochs of the first phase (frozen base, new head) when "
                                                  "trainable_layers > 0.")
    fine_tune_factor: float = Field(0.1, gt=0, le=1, description="The learning rate of the fine-tuning phase, as "
                                                                 "a factor of train.learning_rate.")
    alpha: searchable(float, gt=0, le=1.4) = Field(
        1.0, description="A MobileNet base's width multiplier: below 1, fewer filters in every layer (a smaller, "
                         "faster model). With imagenet weights, one Keras has weights for (MobileNet 0.25–1, "
                         "MobileNetV2 0.35–1.4, MobileNetV3 0.75 or 1).")
    dense_units: searchable(int, ge=0) = Field(128, description="Units of the dense layer of the head (0: none).")
    dropout: searchable(float, ge=0, lt=1) = Field(0.2, description="Dropout before the output.")
    augment: Augment = Field(default_factory=Augment, description="Training-time augmentation.")

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: str) -> str:
        value = str(value).strip()
        return value.lower() if value.lower() in ("imagenet", "none") else value

    @model_validator(mode="after")
    def _alpha(self):
        if self.widths() == [1.0]:
            return self
        if any(base not in IMAGENET_ALPHAS for base in self.bases()):
            raise ValueError(f"model.alpha: a width multiplier of MobileNet bases ({', '.join(IMAGENET_ALPHAS)}) "
                             "only; leave it out for the others")
        if self.weights != "imagenet":
            return self
        if not isinstance(self.alpha, float) and not hasattr(self.alpha, "choices"):
            raise ValueError("model.alpha: with imagenet weights, give the values as {choice: [...]} (Keras has "
                             "weights for some widths only), or use weights: none")
        for base in self.bases():
            wrong = [a for a in self.widths() if a not in IMAGENET_ALPHAS[base]]
            if wrong:
                raise ValueError(f"model.alpha {wrong[0]:g}: Keras has no ImageNet weights of {base} at this width; "
                                 f"it has {', '.join(f'{a:g}' for a in IMAGENET_ALPHAS[base])} (or use weights: "
                                 "none)")
        return self

    def bases(self) -> list[str]:
        """The base(s) this spec names: one, or a search's choices."""
        return list(getattr(self.base, "choices", None) or [self.base])

    def widths(self) -> list[float]:
        """The MobileNet widths (`alpha`) this spec names: one, a search's choices, or a range's ends."""
        alpha = self.alpha
        return list(getattr(alpha, "choices", None) or ([alpha] if isinstance(alpha, float) else
                                                          [alpha.low, alpha.high]))


class SequentialModel(Section):
    kind: Literal["sequential"] = Field(description="Keras layers you list, in order (exact control).")
    layers: Annotated[list[dict[str, Any]],
                      WithJsonSchema({"type": "array", "minItems": 1, "items": LAYER_SCHEMA})] = Field(
        description="Layers in order, each a bare name (Flatten) or {Name: {argument: value}}, with a name from "
                    "keras.layers; any argument "
                    "may be a search space. nnlab adds the input (and pixel scaling for images), a Flatten where "
                    "needed, and the output layer."
    )

    @field_validator("layers", mode="before")
    @classmethod
    def _layers(cls, value: Any) -> list[dict]:
        return parse_layers(value)


ModelSpec = Annotated[MlpModel | CnnModel | SequentialModel | PretrainedModel, Field(discriminator="kind")]
MODEL_KINDS = ("mlp", "cnn", "sequential", "pretrained")
IMAGE_KINDS = ("cnn", "pretrained")  # model kinds that take images only
