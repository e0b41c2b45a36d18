"""`nnlab export`: a run's model written for serving, and checked before it is called written.

`export(model, output, fmt)` writes a .keras file (plain Keras), a TensorFlow SavedModel folder (TF
Serving, converters), an ONNX file (onnxruntime), a LiteRT/TFLite flatbuffer (phones) or a Core ML
package. Every format predicts in inference mode: augmentation and dropout are off.

Each file is written under a temporary name beside the output, opened with its own runtime (Keras,
TensorFlow, onnxruntime, the LiteRT interpreter; Core ML is read back, and run only on macOS) and its
predictions on sample rows compared with Keras's (`exportcheck`); only then is it renamed to the name
asked for. A file that does not load or predicts otherwise is removed, with the reason, so no file that
fails to load is ever left under the requested name (nor after a kill: only the temporary name).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from nnlab.data.preparation import CategoricalColumn, Preparation
from nnlab.errors import DataError, first_line
from nnlab.quiet import native_output_hidden
from nnlab.spec.names import EXPORT_FORMATS
from nnlab.tools.exportcheck import check_export, serving_dtype

FORMATS = tuple(EXPORT_FORMATS)


def format_for(output: Path) -> str:
    """The format `--output` names by its suffix (no suffix: a SavedModel folder); a clear error else."""
    if not output.suffix:
        return "savedmodel"
    fmt = next((name for name, f in EXPORT_FORMATS.items() if f.suffix == output.suffix), None)
    if fmt is None:
        suffixes = ", ".join(f"{f.suffix} ({name})" for name, f in EXPORT_FORMATS.items() if f.suffix)
        raise DataError(f"--output {output}: its suffix names no export format ({suffixes}, or no suffix for a "
                        "SavedModel folder); give --format")
    return fmt


def export(model, output: str | Path, fmt: str = "keras", preparation: Preparation | None = None) -> Path:
    """The model written as `fmt` at `output`, checked (see the module's words). Returns the path."""
    output = Path(output)
    if fmt not in FORMATS:
        raise DataError(f"--format {fmt!r}: expected {', '.join(FORMATS[:-1])} or {FORMATS[-1]}")
    suffix = EXPORT_FORMATS[fmt].suffix  # (savedmodel: a folder; coreml's .mlpackage is a folder too)
    if suffix and output.suffix != suffix:
        kind = "a Keras model file" if fmt == "keras" else f"a {fmt} model"
        raise DataError(f"--output {output}: {kind} must end in {suffix}")
    if fmt in ("savedmodel", "coreml") and output.exists() and (not output.is_dir() or any(output.iterdir())):
        kind = "a SavedModel is written into" if fmt == "savedmodel" else "a Core ML package is written as"
        raise DataError(f"--output {output} exists; {kind} a new folder")
    if output.is_dir() and fmt not in ("savedmodel", "coreml"):
        raise DataError(f"--output {output} is a folder; give the path of the file to write")
    _require(fmt)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.stem}.tmp-{os.getpid()}{output.suffix}")
    from nnlab.engine.sweep import terminate_as_interrupt

    with terminate_as_interrupt():  # (SIGTERM as Ctrl-C: the temporary file is removed either way)
        try:
            with native_output_hidden(show_on_error=False):  # (converters' warnings; a failure says why itself)
                WRITERS[fmt](model, tmp, preparation)
                check_export(model, tmp, fmt, preparation)
            if output.is_dir():  # (an empty folder given for a SavedModel)
                output.rmdir()
            os.replace(tmp, output)
        finally:
            _remove(tmp)
    return output


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def with_raw_inputs(model, preparation: Preparation, fmt: str):
    """The model behind its own preprocessing, taking the CSV's columns by name (`--raw-inputs`; see
    `engine.tabular.rawinputs`)."""
    from nnlab.engine.tabular.rawinputs import raw_input_model

    table = preparation.table
    if table is None:
        raise DataError("--raw-inputs is for a run on a table (a CSV or a DataFrame): this run's model already "
                        "takes its data as it is (images or arrays)")
    if fmt in ("savedmodel", "coreml"):
        raise DataError(f"--raw-inputs with --format {fmt}: not offered (a raw-inputs model has one named input per "
                        "column, some of them text); use keras, or onnx/litert where the converter takes it")
    categorical = [c.name for c in table.columns if isinstance(c, CategoricalColumn)]
    if fmt in ("onnx", "litert") and categorical:
        raise DataError(f"--raw-inputs with --format {fmt}: the categorical column(s) {', '.join(categorical)} are "
                        f"one-hot encoded by Keras lookup tables, which {fmt} cannot hold (ONNX has no op for them; "
                        "LiteRT needs TensorFlow's select ops). Export --raw-inputs as keras, or export "
                        f"--format {fmt} without --raw-inputs and encode the columns as preprocessing.json says")
    return raw_input_model(model, table.columns, table.na_values)


def _require(fmt: str) -> None:
    """A clear error naming the `export` extra when a converter's or runtime's package is missing."""
    import importlib.util

    missing = [m for m in EXPORT_FORMATS[fmt].packages if importlib.util.find_spec(m) is None]
    if missing:
        raise DataError(f"--format {fmt} needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                        "not installed: pip install 'nnlab[export]' (or pip install -e '.[export]' in a clone of "
                        "nnlab)")


# ------------------------------------------------------------------------------------ the writers


def _write_keras(model, output: Path, preparation: Preparation | None) -> None:
    model.save(output)


def _export_with_keras(fmt: str):
    def write(model, output: Path, preparation: Preparation | None) -> None:
        """ONNX or LiteRT through Keras's own `model.export` (ONNX: via tf2onnx; LiteRT: TensorFlow's
        converter), after one call on an example batch (Keras exports only a model that has been called)."""
        from nnlab.engine.backend import import_keras
        from nnlab.engine.model.runtimes import write_with_keras

        keras = import_keras()
        try:
            write_with_keras(model, output, fmt)
        except Exception as exc:  # the converters' failures name ops and versions; keep their words
            reason = first_line(exc)
            if "format" in reason and fmt in reason:
                reason += f" (Keras {keras.__version__} may be too old for this format: pip install -U keras)"
            raise DataError(f"--format {fmt}: the converter could not export this model: {reason}. The .keras and "
                            "savedmodel formats hold every model nnlab builds") from None

    return write


def _write_coreml(model, output: Path, preparation: Preparation | None) -> None:
    """A Core ML ML Program (.mlpackage) converted by coremltools from the model's inference function
    (`training=False`); its input is named `inputs`, any batch size from 1 to 4096. coremltools converts
    on Linux and macOS; only macOS can run the package."""
    import contextlib
    import io

    from nnlab.engine.backend import import_tensorflow

    if len(model.inputs) != 1:
        raise DataError("--format coreml takes a model with one input; export this one as onnx or savedmodel and "
                        "convert that, or export without --raw-inputs")
    tf = import_tensorflow()
    import coremltools as ct

    from nnlab.engine.model.converterops import teach_coreml

    teach_coreml()
    shape = tuple(model.inputs[0].shape[1:])

    def serve(inputs):
        return model(inputs, training=False)

    concrete = tf.function(serve, autograph=False).get_concrete_function(
        tf.TensorSpec((None, *shape), model.inputs[0].dtype, name="inputs"))
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # (its progress bars)
            package = ct.convert([concrete], source="tensorflow", convert_to="mlprogram",
                                 inputs=[ct.TensorType(name="inputs", shape=(ct.RangeDim(1, 4096, 1), *shape))])
            package.save(str(output))
    except Exception as exc:  # coremltools names the op or version it cannot take
        raise DataError(f"--format coreml: coremltools {ct.__version__} could not convert this model: "
                        f"{first_line(exc)}. Export it as onnx or savedmodel instead") from None


def _write_saved_model(model, output: Path, preparation: Preparation | None) -> None:
    """A SavedModel whose `serve` endpoint (also its `serving_default` signature) calls the model with
    `training=False`. Keras's own `model.export` calls it without, and its random augmentation layers
    default to training mode there: the same image would get a different prediction on every call."""
    from nnlab.engine.backend import import_keras, import_tensorflow

    tf, keras = import_tensorflow(), import_keras()
    spec = tf.TensorSpec((None, *model.input_shape[1:]), getattr(tf, serving_dtype(preparation)), name="inputs")

    def serve(inputs):
        return model(tf.cast(inputs, model.inputs[0].dtype), training=False)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", tf.function(serve, input_signature=[spec], autograph=False))
    archive.write_out(str(output), verbose=False)


WRITERS = {"keras": _write_keras, "savedmodel": _write_saved_model, "onnx": _export_with_keras("onnx"),
           "litert": _export_with_keras("litert"), "coreml": _write_coreml}


