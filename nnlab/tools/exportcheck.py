"""An exported model file opened with its own runtime and compared with Keras on sample rows, before
`nnlab export` calls it written (`check_export`). A file that does not load, or predicts otherwise, is
a `DataError` with the runtime's reason and what to change.

The runtimes: Keras (`.keras`, in its safe mode), TensorFlow (SavedModel's `serve`), onnxruntime, the
LiteRT interpreter (ai-edge-litert, else TensorFlow's own), Core ML (macOS only: elsewhere the package
is read back and its input checked, not run).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

from nnlab.data.preparation import Preparation
from nnlab.errors import DataError, first_line

ROWS = 8  # sample rows
RTOL, ATOL = 1e-3, 1e-4  # ATOL is scaled by the largest output (a house price, not a probability)
RUNTIMES = {"keras": "Keras", "savedmodel": "TensorFlow", "onnx": "onnxruntime", "litert": "the LiteRT interpreter",
            "coreml": "Core ML"}


def check_export(model, path: Path, fmt: str, preparation: Preparation | None) -> None:
    """Raise `DataError` unless the file at `path` loads with its runtime and predicts what `model` does."""
    from nnlab.engine.backend import import_keras

    keras = import_keras()
    rng = np.random.default_rng(0)
    pixels = serving_dtype(preparation) == "uint8"  # (an image folder's run takes pixels, 0–255)
    inputs = keras.tree.map_structure(lambda t: _sample(t, rng, pixels), model.input)
    expected = [np.asarray(a) for a in keras.tree.flatten(model(inputs, training=False))]
    try:
        got = RUNNERS[fmt](path, inputs, preparation)
    except DataError:
        raise
    except Exception as exc:  # each runtime raises its own kinds
        raise DataError(f"--format {fmt}: {RUNTIMES[fmt]} cannot run the exported file ({_reason(exc)}), so it was "
                        f"not written. {advice(fmt)}") from None
    if got is None:  # (Core ML off macOS: read back, not run)
        return
    for i, want in enumerate(expected):
        scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
        close = [g for g in got if np.shape(g) == want.shape and np.allclose(g, want, rtol=RTOL, atol=ATOL * scale)]
        if not close:
            diffs = [float(np.max(np.abs(g - want))) for g in got if np.shape(g) == want.shape]
            largest = f"it differs by up to {min(diffs):.3g}" if diffs else "no output of the same shape"
            raise DataError(f"--format {fmt}: the exported file does not predict what the model does on sample rows "
                            f"({largest}; output {i + 1} of {len(expected)}), so it was not written. {advice(fmt)}")


def advice(fmt: str) -> str:
    if fmt in ("keras", "savedmodel"):
        return "Please report this: every model nnlab builds should export to this format"
    return ("A model with an operation the format lacks (a rare activation or layer) does; the keras and savedmodel "
            f"formats hold every model nnlab builds{'' if fmt == 'litert' else ', and litert most'}")


def _reason(exc: Exception) -> str:
    missing = re.search(r"No Op registered for (\w+)", str(exc))
    if missing:
        return f"the file uses the operation {missing.group(1)}, which onnxruntime does not have"
    return first_line(exc).rstrip(".")


def _sample(tensor, rng, pixels: bool):
    batch = example_batch(tensor, ROWS, rng)
    if pixels and batch.dtype != object:  # (an image model's inputs are pixels, 0–255)
        batch = rng.integers(0, 256, batch.shape).astype(batch.dtype)
    return batch


def _run_keras(path: Path, inputs, preparation: Preparation | None) -> list:
    from nnlab.engine.backend import import_keras
    from nnlab.engine.model.files import load_keras_file

    loaded = load_keras_file(path, "the exported file")
    return [np.asarray(a) for a in import_keras().tree.flatten(loaded(inputs, training=False))]


def _run_saved_model(path: Path, inputs, preparation: Preparation | None) -> list:
    from nnlab.engine.backend import import_keras, import_tensorflow
    tf = import_tensorflow()
    loaded = tf.saved_model.load(str(path))
    outputs = loaded.serve(tf.constant(np.asarray(inputs).astype(serving_dtype(preparation))))
    return [np.asarray(a) for a in import_keras().tree.flatten(outputs)]


def _run_onnx(path: Path, inputs, preparation: Preparation | None) -> list:
    from nnlab.engine.model.runtimes import onnx_runner

    return onnx_runner(path)(inputs)


def _run_litert(path: Path, inputs, preparation: Preparation | None) -> list:
    from nnlab.engine.model.runtimes import litert_runner

    return litert_runner(path)(inputs)


def _run_coreml(path: Path, inputs, preparation: Preparation | None) -> list | None:
    import coremltools as ct

    package = ct.models.MLModel(str(path), skip_model_load=sys.platform != "darwin")
    names = [i.name for i in package.get_spec().description.input]
    if names != ["inputs"]:
        raise DataError(f"--format coreml: the package's inputs are {names}, not ['inputs'], so it was not written")
    if sys.platform != "darwin":
        return None
    return list(package.predict({"inputs": np.asarray(inputs)}).values())


RUNNERS = {"keras": _run_keras, "savedmodel": _run_saved_model, "onnx": _run_onnx, "litert": _run_litert,
           "coreml": _run_coreml}


def serving_dtype(preparation: Preparation | None) -> str:
    """What a served model takes: uint8 pixels (0-255) for a run on an image folder, as its images were
    decoded; float32 otherwise (a CSV's prepared columns, or arrays like the run's x)."""
    return "uint8" if preparation is not None and preparation.kind == "image_folder" else "float32"


def example_batch(tensor, rows: int, rng: np.random.Generator):
    """`rows` rows shaped as the model input `tensor` takes them, drawn at random from `rng` (numbers near
    0, pixels 0–255 for uint8, short words for text)."""
    shape = (rows, *(d or 1 for d in tensor.shape[1:]))
    dtype = str(tensor.dtype)
    if dtype == "string":
        words = np.array(["", "a", "b", "yes", "no"], dtype=object)
        return words[rng.integers(0, len(words), shape)]
    if dtype == "uint8":
        return rng.integers(0, 256, shape).astype(np.uint8)
    return rng.normal(size=shape).astype(dtype)
