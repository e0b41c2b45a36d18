"""search.latency: how long one example's forward pass of a configuration's model takes on this host,
in the runtime the model will be deployed with (`keras`: a traced call of the Keras model; `litert`:
the LiteRT interpreter on the converted file; `onnx`: onnxruntime on it, CPU).

The time is the median of CALLS calls on one example (zeros) after WARMUP calls, in milliseconds. A
forward pass costs the same whatever the weights hold, so a configuration is timed once, on a model
built from it: before it trains where search.constraints has `max_latency_ms` (a model over it is never
trained), else as its trial ends; each trial's time goes to trials.csv as `latency_ms`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

WARMUP, CALLS = 10, 50
SUFFIX = {"litert": ".tflite", "onnx": ".onnx"}


class Latencies:
    """The latency of each configuration timed in this process (one timing per configuration)."""

    def __init__(self, runtime: str, kind: str, shape):
        self.runtime, self.kind, self.shape = runtime, kind, shape
        self.timed: dict[str, float | str] = {}

    def of(self, params: dict) -> float | str:
        """The milliseconds of one example's forward pass of `params`' model, or why it could not be
        timed (a converter that cannot take the model: a text)."""
        key = repr(sorted((k, repr(v)) for k, v in params.items()))
        if key not in self.timed:
            from nnlab.engine.model.builders import build_model

            try:
                self.timed[key] = milliseconds(build_model(self.kind, params, self.shape), self.runtime)
            except Exception as exc:  # (each converter and runtime raises its own kinds)
                from nnlab.errors import first_line

                self.timed[key] = f"{self.runtime} cannot run this model: {first_line(exc)}"
        return self.timed[key]

    def time(self, trial_id: str, params: dict, work, warn) -> None:
        """A trial's time, as it ends, into its `work` (`TrialWork.latency_ms`), or a warning why not."""
        ms = self.of(params)
        if isinstance(ms, str):
            warn(f"trial {trial_id}: no latency_ms ({ms})")
        else:
            work.latency_ms = ms


def milliseconds(model, runtime: str) -> float:
    """The median time of one example's forward pass of `model` with `runtime`, in ms."""
    from nnlab.engine.backend import import_keras
    from nnlab.engine.model.runtimes import zeros_like_input

    keras = import_keras()
    example = keras.tree.map_structure(zeros_like_input, model.input)
    if runtime == "keras":
        return _median(_traced(model), example)
    from nnlab.engine.model.runtimes import litert_runner, onnx_runner, write_with_keras
    from nnlab.quiet import native_output_hidden

    with tempfile.TemporaryDirectory(prefix="nnlab-latency-") as folder:
        path = Path(folder) / f"model{SUFFIX[runtime]}"
        with native_output_hidden(show_on_error=False):  # (the converters' and the interpreter's logs)
            write_with_keras(model, path, runtime)
            run = (litert_runner if runtime == "litert" else onnx_runner)(path)
            run(example)
        return _median(run, example)


def _traced(model):
    """The model's inference call traced once by TensorFlow (as a SavedModel serves it), outputs fetched."""
    from nnlab.engine.backend import import_keras, import_tensorflow

    keras, tf = import_keras(), import_tensorflow()
    call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return lambda x: [t.numpy() for t in keras.tree.flatten(call(x))]


def _median(run, example) -> float:
    for _ in range(WARMUP):
        run(example)
    times = []
    for _ in range(CALLS):
        start = time.perf_counter()
        run(example)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 4)
