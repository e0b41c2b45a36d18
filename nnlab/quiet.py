"""Importing TensorFlow (or Keras, which imports it) without its start-up noise.

Its C++ start-up lines (oneDNN, CUDA stubs) are written to the process's stderr before any Python
logging setting applies, so the import runs with file descriptor 2 pointed at a temporary file; that
text is shown only if the import fails. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import tempfile


def import_quietly(name: str = "tensorflow"):
    """`import name` (tensorflow, keras) with TensorFlow's start-up output hidden."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with tempfile.TemporaryFile(mode="w+b") as sink:
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(sink.fileno(), 2)
            try:
                importlib.import_module("tensorflow")
            except BaseException:
                os.dup2(saved, 2)
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)
    sys.modules["tensorflow"].get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    return importlib.import_module(name)
