"""TensorFlow, fenced: every private name of TensorFlow that nnlab uses, here and nowhere else.

- The global registry of custom gradients (`tensorflow.python.framework.ops.gradient_registry`): every
  traced `tf.custom_gradient` is registered under a new name and never removed, and its closure holds
  the whole traced graph; nnlab forgets a finished trial's entries (`backend.release_custom_gradients`).
- The global seed (`tensorflow.python.eager.context.global_seed`), read to put it back after a run
  (`backend.process_kept`).

Each is listed in `PRIVATE` and checked by `missing()` (a test runs it); `pyproject.toml` bounds
TensorFlow below the next minor version than the one these were checked with, and a test greps that no
other module uses `tensorflow.python`. Where a TensorFlow lacks one, nnlab does without (no release, no
seed to restore) rather than fail.
"""

from __future__ import annotations

import importlib

PRIVATE = [("tensorflow.python.framework.ops", "gradient_registry._registry"),
           ("tensorflow.python.eager.context", "global_seed")]


def gradient_registry() -> dict | None:
    """TensorFlow's global registry of gradient functions, by name (None where this TensorFlow has none)."""
    try:
        from tensorflow.python.framework import ops

        return ops.gradient_registry._registry
    except (ImportError, AttributeError):
        return None


def global_seed():
    """TensorFlow's global seed now (None when none was set, or where it cannot be read)."""
    try:
        from tensorflow.python.eager import context

        return context.global_seed()
    except (ImportError, AttributeError):
        return None


def missing() -> list[str]:
    """Which of these private names this TensorFlow lacks (none: [])."""
    absent = []
    for module, name in PRIVATE:
        try:
            found = importlib.import_module(module)
        except ImportError:
            absent.append(f"{module}.{name}")
            continue
        for part in name.split("."):
            found = getattr(found, part, None)
        if found is None:
            absent.append(f"{module}.{name}")
    return absent
