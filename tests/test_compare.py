"""compare on fabricated run folders: rows, sorting, formats, damaged runs."""

from __future__ import annotations

import json

import pytest

from nnlab.errors import NnlabError
from nnlab.runs import files as results
from nnlab.runs.compare import compare, render


def test_a_folder_of_runs_gives_one_row_per_run(tmp_path, make_run):
    make_run(tmp_path, "b", [0.5, 0.2, 0.9])
    make_run(tmp_path, "a", [0.7, 0.8], direction="max", objective="val_accuracy", statuses=["completed", "failed"])
    comparison = compare([tmp_path])
    assert comparison.level == "runs"
    first, second = comparison.rows
    assert first["run"] == "a" and first["best_score"] == 0.7 and first["failed"] == 1 and first["completed"] == 1
    assert second["best_score"] == 0.2 and second["best_trial"] == "1"
    assert second["best_hyperparameters"] == {"units": 32, "activation": "relu"}


def test_one_run_gives_trials_best_first_with_failures_last(tmp_path, make_run):
    run_dir = make_run(tmp_path, "r", [0.5, 0.2, None, 0.9], statuses=["completed", "completed", "failed", "completed"])
    rows = compare([run_dir]).rows
    assert [r["trial_id"] for r in rows] == ["1", "0", "3", "2"]
    assert rows[-1]["reason"].startswith("loss became nan")
    maximize = make_run(tmp_path, "m", [0.5, 0.9, 0.7], direction="max", objective="val_accuracy")
    assert [r["score"] for r in compare([maximize]).rows] == [0.9, 0.7, 0.5]


def test_sort_top_and_reverse(tmp_path, make_run):
    run_dir = make_run(tmp_path, "r", [0.5, 0.2, 0.9, 0.4])
    assert [r["trial_id"] for r in compare([run_dir], sort="seconds", top=2).rows] == ["0", "1"]
    assert [r["trial_id"] for r in compare([run_dir], sort="units", reverse=True).rows][0] == "3"
    with pytest.raises(NnlabError, match="did you mean `seconds`"):
        compare([run_dir], sort="secnds")


def test_formats(tmp_path, make_run):
    make_run(tmp_path, "a", [0.3, 0.1])
    make_run(tmp_path, "b", [0.2])
    comparison = compare([tmp_path])
    data = json.loads(render(comparison, "json"))
    assert {"run", "status", "trials", "completed", "failed", "objective", "direction", "best_score",
            "best_hyperparameters", "seconds"} <= set(data[0])
    csv_text = render(comparison, "csv")
    assert csv_text.splitlines()[0].startswith("run,status,model") and "units" in csv_text.splitlines()[0]
    markdown = render(comparison, "markdown")
    assert markdown.startswith("| run |") and markdown.count("\n") == 4
    table = render(comparison, "table")
    assert "Runs" in table and "0.1" in table
    trials = json.loads(render(compare([tmp_path / "a"]), "json"))
    assert {"run", "trial_id", "status", "score", "objective", "direction", "hyperparameters", "metrics",
            "seconds"} <= set(trials[0])


def test_damaged_runs_are_reported_and_others_still_show(tmp_path, make_run):
    make_run(tmp_path, "good", [0.3])
    bad = make_run(tmp_path, "bad", [0.1, 0.2])
    (bad / results.SUMMARY).write_text("{ truncated")
    rows = {r["run"]: r for r in compare([tmp_path]).rows}
    assert rows["good"]["status"] == "completed"
    assert rows["bad"]["status"].startswith("damaged") and rows["bad"]["best_score"] == 0.1


def test_no_runs_and_missing_paths_are_errors(tmp_path):
    with pytest.raises(NnlabError, match="No runs found"):
        compare([tmp_path])
    with pytest.raises(NnlabError, match="No such folder"):
        compare([tmp_path / "nope"])


def test_long_tables_are_plain_aligned_text(tmp_path, make_run):
    run_dir = make_run(tmp_path, "big", [0.5 + i / 1000 for i in range(250)])
    text = render(compare([run_dir]), "table")
    lines = text.splitlines()
    assert lines[0] == "Trials of big, best first" and len(lines) == 3 + 250
    assert lines[1].split()[:2] == ["trial", "val_loss"] and lines[3].split()[:2] == ["0", "0.5"]


def test_a_run_without_a_completed_trial_shows_as_failed(tmp_path, make_run):
    make_run(tmp_path, "bad", [None, None], statuses=["failed", "failed"])  # its summary says "completed"
    make_run(tmp_path, "good", [0.4, None], statuses=["completed", "failed"])
    rows = {r["run"]: r for r in compare([tmp_path]).rows}
    assert rows["bad"]["status"] == "failed" and rows["bad"]["completed"] == 0
    assert rows["good"]["status"] == "completed"
