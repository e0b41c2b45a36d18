"""Shared test helpers: writing specs, CSVs and image folders into a temporary folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def write(tmp_path: Path):
    """write(name, text) → path: a file in tmp_path with dedented text."""

    def _write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding=encoding)
        return path

    return _write


@pytest.fixture
def image_folder(tmp_path: Path):
    """image_folder(n_per_class, classes) → a folder of PNGs, one subfolder per class."""

    def _make(n_per_class: int = 6, classes=("a", "b"), size=(12, 12), name="pictures") -> Path:
        from PIL import Image

        root = tmp_path / name
        rng = np.random.default_rng(0)
        for c, cls in enumerate(classes):
            (root / cls).mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class):
                pixels = rng.integers(0, 80, (*size, 3), dtype=np.uint8)
                pixels[..., c % 3] += 150  # each class its own dominant colour
                Image.fromarray(pixels).save(root / cls / f"{i}.png")
        return root

    return _make


MINIMAL_SPEC = """
data: {source: "sklearn:iris"}
model: {kind: mlp}
"""
