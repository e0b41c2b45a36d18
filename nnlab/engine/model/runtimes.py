"""A model in another runtime than Keras: written through Keras's own `model.export` (ONNX via tf2onnx,
LiteRT through TensorFlow's converter) and opened with that runtime as a callable that takes inputs
and gives outputs. `nnlab export` checks its files with these (`tools.exportcheck`), and
search.latency times them (`engine.latency`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

Runner = Callable[[object], list]  # inputs (an array, or a dict of arrays by input name) -> the outputs


def write_with_keras(model, path: Path, fmt: str) -> None:
    """`model` as an ONNX or LiteRT file at `path` (Keras exports only a model that has been called: it
    is called once on zeros). The converters' own exceptions pass through."""
    from nnlab.engine.backend import import_keras

    keras = import_keras()
    if fmt == "onnx":
        from nnlab.engine.model.converterops import teach_onnx

        teach_onnx()
    model(keras.tree.map_structure(zeros_like_input, model.input))
    model.export(str(path), format=fmt, verbose=False)


def zeros_like_input(tensor, rows: int = 1):
    """`rows` rows of zeros (empty strings for text) shaped as the model input `tensor` takes them."""
    shape = (rows, *(d or 1 for d in tensor.shape[1:]))
    dtype = str(tensor.dtype)
    return np.full(shape, "", dtype=object) if dtype == "string" else np.zeros(shape, dtype)


def _named(inputs) -> dict:
    return inputs if isinstance(inputs, dict) else {"": inputs}


def onnx_runner(path: Path) -> Runner:
    """An onnxruntime session (CPU) of the file, fed inputs by name (else in order)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wanted = session.get_inputs()

    def run(inputs) -> list:
        given = _named(inputs)
        feed = {}
        for i, item in enumerate(wanted):
            value = given.get(item.name, list(given.values())[i] if i < len(given) else None)
            feed[item.name] = np.asarray(value)
        return list(session.run(None, feed))

    return run


def litert_runner(path: Path) -> Runner:
    """The LiteRT interpreter (ai-edge-litert, else TensorFlow's own) of the file, fed inputs by name (else
    in order); its tensors are sized again only when the inputs' shapes change."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # (TensorFlow's own, deprecated in favour of ai-edge-litert)
        from nnlab.engine.backend import import_tensorflow

        Interpreter = import_tensorflow().lite.Interpreter  # noqa: N806
    interpreter = Interpreter(model_path=str(path))
    details = interpreter.get_input_details()
    sized: list = []

    def run(inputs) -> list:
        given = _named(inputs)
        chosen = [np.asarray(given.get(d["name"].removeprefix("serving_default_").split(":")[0],
                                       list(given.values())[i])) for i, d in enumerate(details)]
        shapes = [list(value.shape) for value in chosen]
        if shapes != sized:
            for d, shape in zip(details, shapes):
                interpreter.resize_tensor_input(d["index"], shape)
            interpreter.allocate_tensors()
            sized[:] = shapes
        for d, value in zip(details, chosen):
            interpreter.set_tensor(d["index"], value.astype(d["dtype"]))
        interpreter.invoke()
        return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]

    return run
