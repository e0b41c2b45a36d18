"""Issue 32 without training: the checks on what nnlab reads back, where a command may write, and an
image folder that holds only its data."""

from __future__ import annotations

import json

import pytest

from nnlab import readback
from nnlab.data.images import class_folders
from nnlab.data.preparation import Preparation
from nnlab.errors import DataError, RunError, SpecError
from nnlab.runs import files
from nnlab.runs.opening import check_run_dir
from nnlab.runs.outputs import check_output
from nnlab.runs.records import Summary
from nnlab.runs.trialprogress import TrialProgress
from nnlab.spec.loader import load_spec


def test_a_summary_value_of_the_wrong_type_is_named_or_left_out():
    with pytest.raises(readback.DamagedFile, match="seconds holds 'slow'"):
        Summary.from_dict({"seconds": "slow"})
    problems: list[str] = []
    summary = Summary.from_dict({"seconds": 10**400, "trials": 3, "status": 5, "best_score": float("nan")}, problems)
    assert summary.trials == 3 and summary.seconds == 0.0 and summary.status == "unknown"
    assert len(problems) == 3 and "(401 characters)" in problems[0] and "too large" in problems[0]
    assert all(len(p) < 300 for p in problems)  # (a 401-digit value is not echoed whole)


def test_a_garbage_row_of_trials_csv_is_named_by_its_line(tmp_path):
    path = tmp_path / files.TRIALS
    header = ",".join(files.TRIAL_COLUMNS) + ",val_loss\n"
    path.write_text(header + "0,completed,0.5,2,3,1.5,,,0.5\n7,completed,abc,x,y,z,,,\n")
    with pytest.raises(readback.DamagedFile, match="trials.csv line 3: score holds 'abc'"):
        files.read_trials(path, [], ["val_loss"])
    problems: list[str] = []
    records = files.read_trials(path, [], ["val_loss"], problems)
    assert [r.trial_id for r in records] == ["0"] and records[0].score == 0.5 and len(problems) == 1


def test_a_trial_progress_file_is_read_whole_or_named(tmp_path):
    path = tmp_path / files.TRIAL_PROGRESS
    TrialProgress(history=[{"loss": [1.0, 0.5]}], pruned="below the median", seconds=2.0, epochs=2).write(path)
    assert TrialProgress.read(path).pruned == "below the median"
    for key, value in [("pruned", 5), ("seconds", "x"), ("epochs", -1), ("history", [{"loss": "x"}]),
                       ("metrics", {"loss": "x"})]:
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, key: value}))
        with pytest.raises(readback.DamagedFile, match=key):
            TrialProgress.read(path)
        path.write_text(json.dumps(record))


@pytest.mark.parametrize(("change", "field"), [
    ({"median": "abc"}, "median"), ({"std": None}, "std"), ({"mean": 1e308, "std": 1e-308}, "std"),
    ({"std": 0.0}, "std"), ({"name": 5}, "name"), ({"type": "words"}, "type"),
])
def test_preprocessing_values_are_checked(change, field):
    record = {"layout": 2, "kind": "table", "task": "regression", "input_shape": [1], "columns": [
        {"name": "a", "type": "numeric", "median": 1.0, "mean": 1.0, "std": 2.0}]}
    assert Preparation.from_json(record).table.features == ["a"]
    record["columns"][0].update(change)
    with pytest.raises(readback.DamagedFile, match=f"columns\\[0\\].{field}"):
        Preparation.from_json(record)


def test_a_huge_layout_is_not_echoed_whole():
    with pytest.raises(RunError) as caught:
        Preparation.from_json({"layout": int("1" + "0" * 400), "kind": "table"})
    assert len(str(caught.value)) < 250


def run_folder(path):
    (path / "tuner").mkdir(parents=True)
    for name in (files.SUMMARY, files.TRIALS, files.SPEC_COPY):
        (path / name).write_text("{}\n")
    return path


def test_outputs_refuse_a_run_s_files_and_the_command_s_input(tmp_path):
    run = run_folder(tmp_path / "runs" / "r")
    (tmp_path / "data.csv").write_text("a\n1\n")
    for target in ("summary.json", "trials.csv", "best.keras", "tuner/oracle.json", "tuner/trial_0/x.h5", "spec.yaml",
                   "preprocessing.json", "report.html", "plots/a.png"):
        with pytest.raises(RunError, match="of the run folder"):
            check_output(run / target)
    with pytest.raises(RunError, match="is a run folder"):
        check_output(run)
    with pytest.raises(RunError, match="own input"):
        check_output(tmp_path / "." / "data.csv", inputs=[tmp_path / "data.csv"])
    check_output(run / "new.csv")  # a new name beside the run's files
    check_output(run / "report.html", own=[run / "report.html"])  # the command's own place
    check_output(tmp_path / "runs" / "table.csv")  # the runs folder is not a run


def test_an_image_folder_with_a_run_inside_is_refused(image_folder, tmp_path):
    folder = image_folder(classes=("circle", "square"))
    assert [p.name for p in class_folders(folder)] == ["circle", "square"]
    run = run_folder(folder / "selfimg")
    with pytest.raises(DataError, match="is a run folder that nnlab wrote inside the image folder"):
        class_folders(folder)
    run.rename(tmp_path / "moved")
    run_folder(folder / "runs" / "r")
    with pytest.raises(DataError, match="a folder of runs"):
        class_folders(folder)


def test_a_run_folder_inside_the_image_folder_is_refused_before_training(image_folder, tmp_path):
    folder = image_folder()
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(f"name: r\ndata: {{source: images, path: {folder}, image_size: [12, 12]}}\n"
                         "model: {kind: cnn}\n")
    with pytest.raises(RunError, match="inside the data folder"):
        check_run_dir(folder / "r", load_spec(spec_path), overwrite=False)
    assert check_run_dir(tmp_path / "runs" / "r", load_spec(spec_path), overwrite=False) is None


def test_init_refuses_a_target_of_one_class(tmp_path):
    from typer.testing import CliRunner

    from nnlab.cli import app

    (tmp_path / "one.csv").write_text("a,b,y\n1,2,yes\n3,4,yes\n5,6,yes\n")
    result = CliRunner().invoke(app, ["init", str(tmp_path / "one.csv"), "-o", str(tmp_path / "s.yaml")])
    assert result.exit_code == 2 and "the one value 'yes' in every row" in result.output
    assert not (tmp_path / "s.yaml").exists()


def test_a_run_name_outside_ascii_is_refused_saying_ascii(tmp_path):
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text("name: näme-ü\ndata: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n")
    with pytest.raises(SpecError, match="ASCII letters"):
        load_spec(spec_path)
