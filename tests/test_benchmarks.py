"""The benchmark scripts that need no TensorFlow start (their imports resolve): a benchmark found
broken on the day it is needed costs a session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize("script", ["quality.py", "baseline_time.py", "pack.py", "time_to_quality.py", "pruning.py",
                                    "csv_growth.py", "csv_read.py", "answers.py", "tracking.py"])
def test_the_script_answers_help(script):
    out = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout


def test_quality_splits_a_count_as_a_regression_and_stratifies_classes(monkeypatch):
    import pandas as pd

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from quality import DataSet, split

    frame = pd.DataFrame({"x": range(100), "counts": [i % 40 for i in range(100)], "label": ["a", "b"] * 50})
    _, test, task = split(DataSet("c", "", "counts", lambda: frame), frame, seed=0)
    assert task == "regression" and len(test) == 20  # (whole numbers of many values: a count, not classes)
    train, _, task = split(DataSet("l", "", "label", lambda: frame), frame, seed=0)
    assert task == "classification" and (train["label"] == "a").sum() == 40  # (stratified)


def test_quality_tests_a_time_set_on_its_latest_rows_and_a_group_set_on_unseen_groups(monkeypatch):
    import pandas as pd

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from quality import DataSet, split

    frame = pd.DataFrame({"day": [f"2012-01-{1 + i // 4:02d}" for i in range(100)], "x": range(100),
                          "person": [i % 25 for i in range(100)], "y": [i * 0.5 for i in range(100)]})
    train, test, _ = split(DataSet("t", "", "y", lambda: frame, "time", "day"), frame, seed=1)
    assert len(test) == 20 and train["day"].max() <= test["day"].min()
    train, test, _ = split(DataSet("g", "", "y", lambda: frame, "group", "person"), frame, seed=1)
    assert not set(train["person"]) & set(test["person"]) and len(test) == 20
