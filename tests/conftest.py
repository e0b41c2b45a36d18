"""Shared test helpers: writing specs, CSVs and image folders into a temporary folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from nnlab.runs import files
from nnlab.runs.records import Summary, TrialRecord


def pytest_collection_modifyitems(config, items):
    """The slow tests first (in their files' order): `pytest -n 2` hands the longest work out while
    both processes are free, rather than leaving one process alone with a 60-second test at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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


def fabricate_run(runs: Path, name: str, scores: list, direction: str = "min", objective: str = "val_loss",
                  statuses: list | None = None) -> Path:
    """A run folder as a sweep leaves it (trials.csv and summary.json), without training: trial i has
    score scores[i] and units 16·(i+1); `statuses` marks some trials failed."""
    run_dir = runs / name
    hp_names, metric_names = ["units", "activation"], ["loss", objective]
    records = []
    for i, score in enumerate(scores):
        status = (statuses or ["completed"] * len(scores))[i]
        records.append(TrialRecord(
            trial_id=str(i), status=status, score=score if status == "completed" else None, best_epoch=2, epochs=3,
            seconds=1.5 + i, reason="loss became nan at epoch 2" if status == "failed" else None,
            hyperparameters={"units": 16 * (i + 1), "activation": "relu"},
            metrics={"loss": 0.1 * i, objective: score} if status == "completed" else {}))
    files.write_trials(run_dir / files.TRIALS, records, hp_names, metric_names)
    files.write_summary(run_dir / files.SUMMARY, Summary(
        run=name, status="completed", model="mlp", data="sklearn:iris", tuner="random", objective=objective,
        direction=direction, seconds=12.5, hyperparameter_names=hp_names, metric_names=metric_names))
    return run_dir


@pytest.fixture
def make_run():
    """make_run(runs, name, scores, direction=..., objective=..., statuses=...) → a fabricated run folder."""
    return fabricate_run
