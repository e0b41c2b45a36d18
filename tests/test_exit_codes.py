"""The exit codes the README gives for each command, on real invocations. The cases that need
training (run's 0, 1 and 130, the 0 of predict, evaluate, export, report and retrain) are in
test_sweeps, test_apply and test_kill_resume; these need no TensorFlow."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nnlab.cli import app

runner = CliRunner()


@pytest.fixture
def place(tmp_path, write, make_run):
    """A folder with a good spec, a bad spec, a fabricated run, an empty folder and a CSV."""
    write("good.yaml", "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n")
    write("bad.yaml", "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp, unitz: 3}\n")
    write("d.csv", "a,b,y\n" + "\n".join(f"{i % 7},{i % 3},{i % 2}" for i in range(40)) + "\n")
    make_run(tmp_path / "runs", "r", [0.3, 0.2])
    make_run(tmp_path / "runs", "none", [None], statuses=["failed"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("x")
    return tmp_path


CASES = [  # (command, expected exit code, text in the output); {t} is the test's folder
    ("run {t}/bad.yaml --runs-dir {t}/runs", 2, "did you mean `units`"),
    ("run {t}/good.yaml --runs-dir {t}/afile", 2, "error:"),
    ("chief {t}/good.yaml --bind nowhere", 2, "--bind"),
    ("worker {t}/good.yaml --chief 127.0.0.1:1 --wait 0.2", 2, "no chief answered"),
    ("worker {t}/good.yaml --chief 127.0.0.1:1 --id chief-1", 2, "chief"),
    ("compare {t}/runs", 0, "r"),
    ("compare {t}/runs --sort nothing", 2, "nothing"),
    ("compare {t}/empty", 2, "No runs found"),
    ("compare {t}/runs -o {t}/empty", 2, "error:"),
    ("init --data {t}/d.csv -o {t}/spec.yaml", 0, "wrote"),
    ("init --data {t}/d.csv -o {t}/good.yaml", 2, "exists"),
    ("init --data {t}/missing.csv -o {t}/s2.yaml", 2, "not found"),
    ("validate {t}/bad.yaml", 2, "unitz"),
    ("plot {t}/runs/r -o {t}/plots", 0, "wrote"),
    ("plot {t}/empty", 2, "not an nnlab run folder"),
    ("plot {t}/runs/none", 2, "no completed trial"),
    ("report {t}/empty", 2, "not an nnlab run folder"),
    ("report {t}/runs/none", 2, "no completed trial"),
    ("retrain {t}/empty", 2, "not an nnlab run folder"),
    ("retrain {t}/runs/none", 2, "no completed trial"),
    ("schema", 0, "nnlab spec"),
    ("schema -o {t}/afile/schema.json", 2, "error:"),
    ("export {t}/empty -o {t}/m.keras", 2, "not an nnlab run folder"),
    ("predict {t}/empty {t}/d.csv", 2, "not an nnlab run folder"),
    ("evaluate {t}/empty {t}/d.csv", 2, "not an nnlab run folder"),
    ("explain {t}/empty", 2, "not an nnlab run folder"),
    ("track {t}/empty --to sqlite:///{t}/m.db", 2, "holds none"),
    ("explain {t}/runs/none -o {t}/out", 2, "error:"),
    ("run {t}/good.yaml --workers -1", 2, "--workers"),
    ("doctor", 0, "TensorFlow sees:"),  # (asks TensorFlow in a fresh process: a few seconds)
]


@pytest.mark.parametrize("command,code,text", CASES, ids=[c[0].split()[0] + f"-{i}" for i, c in enumerate(CASES)])
def test_exit_codes(place, command, code, text):
    result = runner.invoke(app, command.format(t=place).split())
    assert result.exit_code == code, result.output
    assert text in result.output
    assert "Traceback" not in result.output


def test_every_command_has_an_exit_code_case():
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert names == {c[0].split()[0] for c in CASES}
