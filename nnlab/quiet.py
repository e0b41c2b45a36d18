"""Importing TensorFlow (or Keras, which imports it) without its start-up noise.

Its C++ start-up lines (oneDNN, CUDA stubs) are written to the process's stderr before any Python
logging setting applies, so the import runs with file descriptor 2 pointed at a temporary file; that
text is shown only if the import fails. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import tempfile


def import_quietly(name: str = "tensorflow"):
    """`import name` (tensorflow, keras) with TensorFlow's start-up output hidden."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with native_output_hidden():
            importlib.import_module("tensorflow")
    sys.modules["tensorflow"].get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    return importlib.import_module(name)


@contextlib.contextmanager
def native_output_hidden(show_on_error: bool = True):
    """What is written to the process's stderr inside (C++ libraries' lines too) hidden; shown after
    all when an exception ends it and `show_on_error`."""
    with tempfile.TemporaryFile(mode="w+b") as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            if show_on_error:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def hide_disk_errors() -> None:
    """From now on, the errors a library raises while it cleans up after a write to a full disk (h5py's
    destructors, by the dozen, at any later moment) are not printed: nnlab says once that the disk is
    full. Other such errors print as before."""
    previous = sys.unraisablehook
    if getattr(previous, "nnlab", False):
        return

    def hook(unraisable):
        if "No space left on device" not in str(unraisable.exc_value):
            previous(unraisable)

    hook.nnlab = True
    sys.unraisablehook = hook
