"""The one way nnlab opens a model file: a `.keras` model (`load_keras_file`: best.keras) or a weights
file (`load_weights`: a trial's checkpoint, a pretrained base's `model.weights`). Keras's refusals and
a damaged file become a `RunError` that says what is wrong with the file, never a traceback.

Keras's safe mode stays on: a file holding a `Lambda` layer (code that would run when it loads) is
refused, as Keras refuses it, with that reason. nnlab never writes such a file itself.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from nnlab.engine.backend import import_keras
from nnlab.errors import RunError, first_line


def load_keras_file(path: str | Path, what: str = "the model file"):
    """The model in a `.keras` file, uncompiled, loaded in Keras's safe mode."""
    path = Path(path)
    _check_file(path, what)
    if not zipfile.is_zipfile(path):
        raise RunError(f"{what} {_where(path)} is damaged: not a complete .keras archive (a .keras file is a zip "
                       f"archive; this one is {_size(path)} and cannot be opened as one). {_remedy(path)}")
    keras = import_keras()
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises ValueError, TypeError, KeyError, OSError, zip and h5 errors
        raise RunError(_why(path, what, exc)) from None


def load_weights(model, path: str | Path, what: str = "the weights file") -> None:
    """Weights from a file into `model` (a `.weights.h5` file, or a `.keras` file's weights)."""
    path = Path(path)
    _check_file(path, what)
    try:
        model.load_weights(path)
    except Exception as exc:
        raise RunError(weights_problem(path, what, exc)) from None


def weights_problem(path: Path, what: str, exc: Exception) -> str:
    """What is wrong with a weights file that `load_weights` (Keras's or Keras Tuner's) refused."""
    text = str(exc)
    if isinstance(exc, FileNotFoundError) or not path.is_file():
        return f"{what} {path} does not exist"
    if "shape" in text and ("match" in text or "incompatible" in text.lower()):
        return f"{what} {_where(path)} does not fit this model: its weights have other shapes ({first_line(exc)})"
    if isinstance(exc, OSError) or "truncated" in text or "signature" in text:
        return f"{what} {_where(path)} is damaged: {first_line(exc)}. {_remedy(path)}"
    return f"{what} {_where(path)} could not be loaded: {first_line(exc)}"


def _where(path: Path) -> str:
    """The path, and where it leads when it is a link (nnlab never writes a link)."""
    return f"{path} (a link to {os.readlink(path)})" if path.is_symlink() else str(path)


def _check_file(path: Path, what: str) -> None:
    if not path.exists():
        raise RunError(f"{what} {path} does not exist")
    if not path.is_file():
        raise RunError(f"{what} {path} is not a file")


def _why(path: Path, what: str, exc: Exception) -> str:
    text = str(exc)
    if "Lambda" in text and "safe_mode" in text:
        return (f"{what} {_where(path)} holds a Lambda layer, which nnlab will not load because loading it runs code "
                "(Keras's safe mode refuses it). nnlab's own models never hold one: this file was made or "
                "changed elsewhere")
    if "Could not locate" in text or "Unknown layer" in text or "Unknown object" in text:
        return (f"{what} {_where(path)} holds a layer or function that is not part of Keras ({first_line(exc)}); "
                "nnlab loads models made only of Keras's own layers")
    if isinstance(exc, (zipfile.BadZipFile, EOFError, OSError, KeyError)) or "truncated" in text:
        return f"{what} {_where(path)} is damaged: {first_line(exc)}. {_remedy(path)}"
    return f"{what} {_where(path)} could not be loaded by Keras: {first_line(exc)}"


def _remedy(path: Path) -> str:
    if path.name == "best.keras":
        return ("nnlab writes it whole (a temporary file, then a rename), so it was cut or changed since; --trial N "
                "uses a trial's kept checkpoint instead (the best trial's is kept), or run the spec again under "
                "another --name")
    if path.name.startswith("checkpoint"):
        return ("nnlab writes checkpoints whole, so it was cut or changed since; the run's own model (without "
                "--trial) does not need it")
    return "Write it again from its source"


def _size(path: Path) -> str:
    size = path.stat().st_size
    return "empty" if size == 0 else f"{size:,} bytes"
