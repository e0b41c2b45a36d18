"""`search.constraints`: limits a model must keep to be trained (`max_params`, `max_size_mb`, `max_macs`),
checked on the counts `spec.sizes` works out without TensorFlow, before any model is built, and
`max_latency_ms`, on the time `engine.latency` measures. `over` says
why one configuration is over a limit (the search then draws another: `engine.kerastuner.keep_within`);
`check_reachable` refuses a space none of whose probed models is within the limits, naming the smallest.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from nnlab.spec.section import Section
from nnlab.spec.sizes import FeatureCounts, Size, model_size
from nnlab.spec.source import spec_source
from nnlab.spec.space import probe_params

BYTES_PER_WEIGHT = 4  # a float32 weight in an exported file (Keras, ONNX, LiteRT without quantization)


class Constraints(Section):
    max_params: int | None = Field(None, ge=1, description="The most parameters (weights) a model may have.")
    max_size_mb: float | None = Field(None, gt=0, description="The largest model file, in MB (10⁶ bytes), estimated "
                                                              "as 4 bytes a parameter (float32).")
    max_macs: int | None = Field(None, ge=1, description="The most multiply-adds of one example's forward pass.")
    max_latency_ms: float | None = Field(None, gt=0, description="The slowest one example's forward pass may be, in "
                                         "ms, on this host with search.latency's runtime (timed before training).")

    @model_validator(mode="after")
    def _one_limit_at_least(self):
        if all(limit is None for limit in (self.max_params, self.max_size_mb, self.max_macs, self.max_latency_ms)):
            raise ValueError("search.constraints: give at least one of max_params, max_size_mb, max_macs, "
                             "max_latency_ms")
        return self

    def check_search(self, tuner: str, latency: str | None) -> None:
        """Refuse (ValueError) limits the search cannot keep: with hyperband, or a latency without a runtime."""
        if tuner == "hyperband":
            raise ValueError("search.constraints: not offered with tuner: hyperband; use random, bayesian or grid")
        if self.max_latency_ms is not None and latency is None:
            raise ValueError("search.constraints: max_latency_ms needs search.latency, the runtime to time it with "
                             "(keras, litert or onnx)")

    @property
    def on_size(self) -> bool:
        """Whether a limit is on the model's size (checked without TensorFlow), not only on its latency."""
        return any(limit is not None for limit in (self.max_params, self.max_size_mb, self.max_macs))


def size_mb(size: Size) -> float:
    """A model's file size in MB, estimated from its parameter count."""
    return size.parameters * BYTES_PER_WEIGHT / 1e6


def over(constraints: Constraints, size: Size | None, latency: float | str | None = None) -> str | None:
    """Why a model of `size` (None: no estimate) and `latency` (ms; a text: why it could not be timed) is
    over a limit (e.g. "1,250,000 parameters > max_params 100,000"), or None."""
    said = []
    if isinstance(latency, str) and constraints.max_latency_ms is not None:
        said.append(latency)
    elif latency is not None and constraints.max_latency_ms is not None and latency > constraints.max_latency_ms:
        said.append(f"{latency:.3g} ms > max_latency_ms {constraints.max_latency_ms:g}")
    if size is None:
        return "; ".join(said) or None
    if constraints.max_params is not None and size.parameters > constraints.max_params:
        said.append(f"{size.parameters:,} parameters > max_params {constraints.max_params:,}")
    if constraints.max_size_mb is not None and size_mb(size) > constraints.max_size_mb:
        said.append(f"{size_mb(size):.3g} MB > max_size_mb {constraints.max_size_mb:g}")
    if constraints.max_macs is not None and size.macs > constraints.max_macs:
        said.append(f"{size.macs:,} multiply-adds > max_macs {constraints.max_macs:,}")
    return "; ".join(said) or None


def check_reachable(spec, input_shape: tuple, outputs: int, features: FeatureCounts | None = None) -> None:
    """Refuse (SpecError) a space whose every probed model (both corners and seeded random points) is over
    a limit, naming the smallest of them."""
    constraints = spec.search.constraints
    if constraints is None or not constraints.on_size:
        return
    smallest = None
    for params in probe_params(spec):
        size = model_size(spec.model.kind, params, input_shape, outputs, features)
        if size is None:
            return  # (a model without an estimate: only building it says; its trials are not limited)
        if over(constraints, size) is None:
            return
        if smallest is None or size.parameters < smallest.parameters:
            smallest = size
    raise spec_source(spec).error(("search", "constraints"), (
        f"no model of this space keeps within search.constraints: the smallest it allows has "
        f"{smallest.parameters:,} parameters ({size_mb(smallest):.3g} MB, {smallest.macs:,} multiply-adds a "
        f"row); {over(constraints, smallest)}. Make the space's models smaller, or raise the limit"))
