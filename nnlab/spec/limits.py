"""The limits on what nnlab accepts, in one place: each value, and how to raise the ones that are a
judgement (an environment variable of the same name). They are checked before anything is allocated,
so that an absurd spec is refused in a second with what to change, not after minutes of work or a crash.

Hard limits (no way past them, because no useful spec comes near them) are the spec's nesting depth
and the layer counts, which the schema takes as bounds. The model-memory limit is checked with its
estimate (`spec.sizes`), the CSV width as the file is read (`data.csvfile`).
"""

from __future__ import annotations

import os

from nnlab.errors import SpecError

# A spec is a few kilobytes; PyYAML reads about a megabyte a second.
SPEC_BYTES = ("NNLAB_MAX_SPEC_BYTES", 1024 * 1024)
# Values a spec holds once YAML's aliases (*name) are expanded: a real spec has at most a few hundred; a
# "billion laughs" spec of 1 KB has 10⁹.
SPEC_VALUES = ("NNLAB_MAX_SPEC_VALUES", 20_000)
SPEC_DEPTH = 40  # sections within sections, lists within lists (PyYAML itself fails near 1,000)
# The memory to train the space's largest model, in GiB (default: 3/4 of this machine's memory; see
# spec.sizes for the estimate).
MODEL_MEMORY = ("NNLAB_MAX_MODEL_GB", None)
# Columns of a CSV file: each is typed on its own (numbers, dates, categories, with notes), so a file of
# 100,000 columns would be read for many minutes before any check (benchmarks/csv_read.py times the reading).
MAX_COLUMNS = ("NNLAB_MAX_COLUMNS", 10_000)

# Hard limits on depth (the schema's bounds): a plain stack of layers this deep does not train, and
# Keras's own graph code fails near a thousand layers (RecursionError).
MAX_LAYERS = 100  # an mlp's hidden layers, a cnn's dense layers
MAX_CONV_BLOCKS = 20  # each halves the image: 20 reach one pixel from 1024 long before
MAX_MEMBERS = 64  # model.members (TabM trains 32)
MAX_SEQUENTIAL_LAYERS = 300


def limit(which: tuple[str, float | None]) -> float | None:
    """A limit's value: its environment variable when set (a positive number), else its default (None:
    a default the caller works out)."""
    name, default = which
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        value = -1
    if not value > 0:
        raise SpecError(f"the environment variable {name}={text[:40]!r} is not a positive number")
    return value


def how_to_raise(which: tuple[str, float]) -> str:
    return f"set the environment variable {which[0]} to raise this limit"
