"""A corpus of damaged run folders (issue 32): each file nnlab reads back, each kind of damage (a wrong
type, a value that is not finite, a huge one, a garbage row, a missing file), through every command
that reads a run. Each ends with exit 0 and the right answer or exit 2 naming the file, never a
traceback, and no byte of any other file changes. One tiny run is trained once and copied per case."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnlab.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()

SPEC = """
name: r
data: {source: csv, path: DATA, target: y}
model: {kind: mlp, layers: 1, units: {choice: [4, 8]}}
train: {epochs: 2, batch_size: 16}
search: {tuner: grid, max_trials: 2, keep: all}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("damaged")
    rows = ["a,b,y"] + [f"{i % 7},{(i * 3) % 5},{(i % 7) * 2 + (i % 5)}" for i in range(60)]
    (folder / "data.csv").write_text("\n".join(rows) + "\n")
    (folder / "spec.yaml").write_text(SPEC.replace("DATA", str(folder / "data.csv")))
    result = runner.invoke(app, ["run", str(folder / "spec.yaml"), "--runs-dir", str(folder / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    return folder


def edit_json(path: Path, key: str, value) -> None:
    data = json.loads(path.read_text())
    data[key] = value
    path.write_text(json.dumps(data))


def big_seconds(path: Path) -> None:
    data = json.loads(path.read_text())
    data["seconds"] = "__big__"
    path.write_text(json.dumps(data).replace('"__big__"', "1" + "0" * 400))


def column(run: Path, key: str, value) -> None:
    path = run / "preprocessing.json"
    data = json.loads(path.read_text())
    data["columns"][0][key] = value
    path.write_text(json.dumps(data))


def garbage_row(run: Path) -> None:
    with (run / "trials.csv").open("a") as fh:
        fh.write("7,completed,abc,x,y,z,,\n")


DAMAGE = {  # name: (the file damaged, how)
    "summary seconds a word": ("summary.json", lambda r: edit_json(r / "summary.json", "seconds", "slow")),
    "summary seconds 10**400": ("summary.json", lambda r: big_seconds(r / "summary.json")),
    "summary best_score a list": ("summary.json", lambda r: edit_json(r / "summary.json", "best_score", [1])),
    "summary not an object": ("summary.json", lambda r: (r / "summary.json").write_text("[1, 2]")),
    "summary missing": ("summary.json", lambda r: (r / "summary.json").unlink()),
    "trials garbage row": ("trials.csv", garbage_row),
    "trials missing": ("trials.csv", lambda r: (r / "trials.csv").unlink()),
    "median a word": ("preprocessing.json", lambda r: column(r, "median", "abc")),
    "std null": ("preprocessing.json", lambda r: column(r, "std", None)),
    "std that overflows": ("preprocessing.json", lambda r: (column(r, "mean", 1e308), column(r, "std", 1e-308))),
    "layout of 401 digits": ("preprocessing.json", lambda r: (r / "preprocessing.json").write_text(
        (r / "preprocessing.json").read_text().replace('"layout": 2', '"layout": 1' + "0" * 400))),
    "progress pruned 5": ("tuner/trial_0/nnlab_trial.json",
                          lambda r: edit_json(r / "tuner/trial_0/nnlab_trial.json", "pruned", 5)),
    "progress history garbage": ("tuner/trial_1/nnlab_trial.json",
                                 lambda r: edit_json(r / "tuner/trial_1/nnlab_trial.json", "history", [{"loss": "x"}])),
    "spec copy not a mapping": ("spec.yaml", lambda r: (r / "spec.yaml").write_text("- 1\n- 2\n")),
}
# the commands that read each file (predict, evaluate and export load TensorFlow: only where they read it)
LIGHT = ["compare-folder", "compare-run", "report", "plot"]
HEAVY = {"summary.json": ["predict", "evaluate", "export", "resume"], "preprocessing.json": ["predict", "export"],
         "tuner/trial_0/nnlab_trial.json": ["resume"], "tuner/trial_1/nnlab_trial.json": ["resume"],
         "trials.csv": ["resume"], "spec.yaml": ["resume"]}
CASES = [(name, command) for name, (file, _) in DAMAGE.items() for command in LIGHT + HEAVY.get(file, [])]


def hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def command_line(command: str, trained: Path, folder: Path, run: Path) -> list[str]:
    """The command on the case's copy of the run (`folder`), with the data and spec where it was trained."""
    out = folder / "out"
    return {
        "compare-folder": ["compare", str(folder / "runs")],
        "compare-run": ["compare", str(run)],
        "report": ["report", str(run), "-o", str(out / "report.html")],
        "plot": ["plot", str(run), "-o", str(out / "plots")],
        "predict": ["predict", str(run), str(trained / "data.csv"), "-o", str(out / "p.csv")],
        "evaluate": ["evaluate", str(run), str(trained / "data.csv")],
        "export": ["export", str(run), "-o", str(out / "m.keras")],
        "resume": ["run", str(trained / "spec.yaml"), "--runs-dir", str(folder / "runs"), "--quiet"],
    }[command]


@pytest.mark.parametrize(("damage", "command"), CASES, ids=[f"{d}-{c}" for d, c in CASES])
def test_a_damaged_run_is_an_answer_or_exit_2_naming_the_file(trained, tmp_path, damage, command):
    folder = tmp_path / "case"
    shutil.copytree(trained / "runs", folder / "runs")
    (folder / "out").mkdir()
    run = folder / "runs" / "r"
    file, hurt = DAMAGE[damage]
    hurt(run)
    before = hashes(run)
    result = runner.invoke(app, command_line(command, trained, folder, run))
    assert result.exit_code in (0, 2), f"{result.exit_code}: {result.output[-2000:]}\n{result.exception!r}"
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert Path(file).name in result.output or "damaged" in result.output, result.output
    after = hashes(run)
    changed = {name for name in before if before[name] != after.get(name)}
    if command == "resume" and result.exit_code == 0:  # a repair: the damaged file and the records rewritten
        changed -= {file, "summary.json", "trials.csv"}
        assert after.get("best.keras") == before.get("best.keras")
    assert changed == set(), f"{changed} changed; {result.output[-1500:]}"
    if command == "compare-folder":
        assert result.exit_code == 0 and "r" in result.output


WRITERS = {  # each command that writes a file, its output option last
    "predict": lambda t, run: ["predict", str(run), str(t / "data.csv"), "-o"],
    "compare": lambda t, run: ["compare", str(run.parent), "-o"],
    "compare-json": lambda t, run: ["compare", str(run.parent), "--format", "json", "-o"],
    "report": lambda t, run: ["report", str(run), "-o"],
    "plot": lambda t, run: ["plot", str(run), "-o"],
    "export": lambda t, run: ["export", str(run), "-o"],
    "init": lambda t, run: ["init", str(t / "data.csv"), "--force", "-o"],
    "schema": lambda t, run: ["schema", "-o"],
}


def test_no_command_writes_over_a_run_file_or_its_own_input(trained, tmp_path):
    shutil.copytree(trained / "runs", tmp_path / "runs")
    run = tmp_path / "runs" / "r"
    before = hashes(run)
    targets = [run / name for name in before] + [run]
    for command, line in WRITERS.items():
        for target in targets:
            result = runner.invoke(app, [*line(trained, run), str(target)])
            assert result.exit_code == 2, f"{command} -o {target}: {result.exit_code} {result.output[-800:]}"
            assert "run folder" in result.output, result.output
    assert hashes(run) == before
    data = (trained / "data.csv").read_bytes()
    for command in ("predict", "init"):
        result = runner.invoke(app, [*WRITERS[command](trained, run), str(trained / "data.csv")])
        assert result.exit_code == 2 and "own input" in result.output, result.output
    assert (trained / "data.csv").read_bytes() == data
    result = runner.invoke(app, [*WRITERS["predict"](trained, run), str(run / "new_predictions.csv")])
    assert result.exit_code == 0 and (run / "new_predictions.csv").is_file()  # a new name beside the run's files


def test_a_run_not_finished_says_so_before_and_after_best_keras(trained, tmp_path):
    shutil.copytree(trained / "runs", tmp_path / "runs")
    run = tmp_path / "runs" / "r"
    edit_json(run / "summary.json", "status", "running")  # (as a kill during the refit leaves it)
    line = ["predict", str(run), str(trained / "data.csv"), "-o", str(tmp_path / "p.csv")]
    result = runner.invoke(app, line)
    assert result.exit_code == 0 and "is not finished (status: running)" in result.output, result.output
    (run / "best.keras").unlink()  # (a sweep that has not yet written it)
    result = runner.invoke(app, line)
    assert result.exit_code == 2 and "no best.keras yet" in result.output and "2 completed trials" in result.output
    best = json.loads((run / "summary.json").read_text())["best_trial"]
    assert f"--trial {best}" in result.output
    result = runner.invoke(app, [*line, "--trial", best])
    assert result.exit_code == 0, result.output
