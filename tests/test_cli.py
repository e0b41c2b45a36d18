"""The CLI through Typer's CliRunner: exit codes, messages, no tracebacks, no TensorFlow at start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from nnlab.cli import app

runner = CliRunner()


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == {c.name or c.callback.__name__ for c in app.registered_commands}
    for name in listed:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, name


def test_version():
    from nnlab import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"nnlab {__version__}"


def test_bad_spec_exits_2_with_one_message_and_no_traceback(write, tmp_path):
    spec = write("bad.yaml", "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp, unitz: 3}\n")
    for command in (["run", str(spec), "--runs-dir", str(tmp_path / "runs")], ["validate", str(spec)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2
        assert "did you mean `units`" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_bad_data_exits_2_before_touching_runs(write, tmp_path):
    spec = write("s.yaml", "data: {source: csv, path: none.csv, target: y}\nmodel: {kind: mlp}\n")
    result = runner.invoke(app, ["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "not found" in result.output
    assert not (tmp_path / "runs").exists()


def test_objective_that_does_not_fit_the_task_fails_before_training(write, tmp_path):
    spec = write("s.yaml", "data: {source: 'sklearn:diabetes'}\nmodel: {kind: mlp}\n"
                           "search: {objective: val_accuracy}\n")
    result = runner.invoke(app, ["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "not computed for this regression task" in result.output


def test_compare_formats_and_output_file(tmp_path, make_run):
    make_run(tmp_path / "runs", "a", [0.3, 0.1])
    result = runner.invoke(app, ["compare", str(tmp_path / "runs"), "--format", "csv"])
    assert result.exit_code == 0 and result.output.startswith("run,status")
    out = tmp_path / "table.md"
    result = runner.invoke(app, ["compare", str(tmp_path / "runs" / "a"), "--format", "markdown", "-o", str(out)])
    assert result.exit_code == 0 and out.read_text().startswith("| run | trial_id")
    result = runner.invoke(app, ["compare", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "No such folder" in result.output


def test_run_into_a_foreign_folder_is_refused(write, tmp_path):
    (tmp_path / "runs" / "s").mkdir(parents=True)
    (tmp_path / "runs" / "s" / "precious.txt").write_text("mine")
    spec = write("s.yaml", "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n")
    result = runner.invoke(app, ["run", str(spec), "--runs-dir", str(tmp_path / "runs"), "--overwrite"])
    assert result.exit_code == 2 and "not an nnlab run folder" in result.output
    assert (tmp_path / "runs" / "s" / "precious.txt").read_text() == "mine"


def test_cli_import_does_not_import_tensorflow():
    code = ("import sys, nnlab.cli; "
            "print([m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "nnlab", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "compare" in out.stdout


def test_compare_does_not_import_tensorflow(tmp_path, make_run):
    make_run(tmp_path, "a", [0.3])
    code = ("import sys; from nnlab.cli import app; from typer.testing import CliRunner; "
            f"r = CliRunner().invoke(app, ['compare', {str(tmp_path)!r}]); assert r.exit_code == 0, r.output; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_schema_is_valid_json_schema_and_accepts_every_example(tmp_path):
    import json

    import jsonschema
    import yaml

    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    from pathlib import Path

    for path in sorted((Path(__file__).parent.parent / "configs").glob("*.yaml")):
        assert not list(validator.iter_errors(yaml.safe_load(path.read_text()))), path
    bad = {"data": {"source": "sklearn:iris"}, "model": {"kind": "mlp", "unitz": 3}}
    assert list(validator.iter_errors(bad))  # an editor flags the typo
    result = runner.invoke(app, ["schema", "--output", str(tmp_path / "s.json")])
    assert result.exit_code == 0 and json.loads((tmp_path / "s.json").read_text()) == schema


def _fake_sweep(monkeypatch, status: str):
    """nnlab.engine.sweep.run replaced by one that records its call and ends with `status` (no TensorFlow)."""
    from nnlab.engine import sweep
    from nnlab.runs.records import Summary

    calls = []

    def fake_run(spec, runs_dir, **kwargs):
        calls.append(kwargs)
        return sweep.SweepResult(Path(runs_dir) / spec.name, Summary(status=status, completed=1), [])

    monkeypatch.setattr(sweep, "run", fake_run)
    return calls


def test_overwrite_of_completed_trials_needs_yes_in_a_script(write, tmp_path, monkeypatch, make_run):
    calls = _fake_sweep(monkeypatch, "completed")
    make_run(tmp_path / "runs", "s", [0.3, 0.1])
    spec = write("s.yaml", "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n")
    command = ["run", str(spec), "--runs-dir", str(tmp_path / "runs"), "--overwrite"]
    result = runner.invoke(app, command)
    assert result.exit_code == 2 and "holds 2 completed trials" in result.output and "--yes" in result.output
    assert not calls and (tmp_path / "runs" / "s" / "trials.csv").is_file()  # nothing deleted
    result = runner.invoke(app, command + ["--yes"])
    assert result.exit_code == 0 and calls[-1]["overwrite"] is True


def test_overwrite_asks_in_a_terminal(write, tmp_path, monkeypatch, make_run):
    import nnlab.cli

    calls = _fake_sweep(monkeypatch, "completed")
    monkeypatch.setattr(nnlab.cli, "_interactive", lambda: True)
    make_run(tmp_path / "runs", "s", [0.3])
    spec = write("s.yaml", "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n")
    command = ["run", str(spec), "--runs-dir", str(tmp_path / "runs"), "--overwrite"]
    result = runner.invoke(app, command, input="n\n")
    assert result.exit_code == 2 and "holds 1 completed trial;" in result.output
    assert "nothing was deleted" in result.output
    assert not calls
    result = runner.invoke(app, command, input="y\n")
    assert result.exit_code == 0 and calls[-1]["overwrite"] is True


def test_overwrite_of_a_run_without_completed_trials_does_not_ask(write, tmp_path, monkeypatch, make_run):
    calls = _fake_sweep(monkeypatch, "completed")
    make_run(tmp_path / "runs", "s", [None], statuses=["failed"])
    spec = write("s.yaml", "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n")
    result = runner.invoke(app, ["run", str(spec), "--runs-dir", str(tmp_path / "runs"), "--overwrite"])
    assert result.exit_code == 0 and calls


def test_an_interrupted_run_says_the_command_that_resumes_it(write, tmp_path, monkeypatch):
    _fake_sweep(monkeypatch, "interrupted")
    spec = write("s.yaml", "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n")
    result = runner.invoke(app, ["run", str(spec), "--name", "ow", "--overwrite", "--yes", "--set", "seed=3",
                                 "--set", "search.max_trials=4", "--runs-dir", "my runs", "--quiet"])
    assert result.exit_code == 130
    line = [li for li in result.output.splitlines() if li.startswith("to resume:")][0]
    assert line == (f"to resume: nnlab run {spec} --runs-dir 'my runs' --name ow --set seed=3 "
                    "--set search.max_trials=4 --quiet")


def test_predict_proba_on_a_regression_run_is_refused(tmp_path, make_run):
    from nnlab.runs import files as results

    run_dir = make_run(tmp_path, "r", [0.3])
    results.write_json(run_dir / results.PREPROCESSING, {"type": "tabular", "task": "regression", "columns": [],
                                                         "input_shape": [1]})
    (tmp_path / "new.csv").write_text("x\n1\n")
    result = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "new.csv"), "--proba",
                                 "-o", str(tmp_path / "p.csv")])
    assert result.exit_code == 2 and "is a regression run" in result.output and not (tmp_path / "p.csv").exists()
