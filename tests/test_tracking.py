"""Runs on an MLflow tracking store (`nnlab run --track`, `nnlab track`): each trial once, found again by
its tags, curves epoch by epoch as the run folder has them, and a server that cannot be reached never
failing a sweep. MLflow is the optional `track` extra: without it these tests are skipped."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app

mlflow = pytest.importorskip("mlflow")
runner = CliRunner()


def store(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def nested(uri: str, experiment: str) -> list:
    from nnlab.runs.tracking import client

    mlflow_client = client(uri)
    found = mlflow_client.get_experiment_by_name(experiment)
    return mlflow_client.search_runs([found.experiment_id]) if found else []


def test_track_sends_each_trial_once_and_a_second_time_nothing(tmp_path, make_run):
    make_run(tmp_path / "runs", "iris-a", [0.5, 0.4, None], statuses=["completed", "completed", "failed"])
    uri = store(tmp_path)
    first = runner.invoke(app, ["track", str(tmp_path / "runs"), "--to", uri])
    assert first.exit_code == 0, first.output
    assert "3 trial(s) sent to experiment 'iris-a'" in first.output
    again = runner.invoke(app, ["track", str(tmp_path / "runs" / "iris-a"), "--to", uri])
    assert again.exit_code == 0 and "0 trial(s) sent" in again.output
    runs = nested(uri, "iris-a")
    kinds = sorted((r.data.tags["nnlab.kind"], r.data.tags.get("nnlab.trial", ""), r.info.status) for r in runs)
    assert kinds == [("run", "", "FINISHED"), ("trial", "0", "FINISHED"), ("trial", "1", "FINISHED"),
                     ("trial", "2", "FAILED")]
    parent = next(r for r in runs if r.data.tags["nnlab.kind"] == "run")
    assert parent.data.metrics["best_score"] == 0.4 and parent.data.tags["nnlab.best_trial"] == "1"
    trial = next(r for r in runs if r.data.tags.get("nnlab.trial") == "2")
    assert trial.data.tags["mlflow.parentRunId"] == parent.info.run_id and "nan" in trial.data.tags["nnlab.reason"]
    assert next(r for r in runs if r.data.tags.get("nnlab.trial") == "1").data.params == {"units": "32",
                                                                                          "activation": "relu"}


def test_a_trial_left_half_sent_is_sent_again_whole_not_twice(tmp_path, make_run):
    from nnlab.runs import files
    from nnlab.runs.tracking import client, run_key, sync

    run_dir = make_run(tmp_path / "runs", "half", [0.3])
    uri = store(tmp_path)
    mlflow_client = client(uri)
    experiment = mlflow_client.create_experiment("half", artifact_location=(tmp_path / "mlruns").as_uri())
    key = run_key(files.read_summary(run_dir / files.SUMMARY))
    parent = mlflow_client.create_run(experiment, tags={"nnlab.run": key, "nnlab.kind": "run"})
    mlflow_client.create_run(experiment, tags={"nnlab.run": key, "nnlab.kind": "trial", "nnlab.trial": "0",
                                               "mlflow.parentRunId": parent.info.run_id})  # (left RUNNING)
    assert sync(run_dir, uri).trials == 1
    trials = [r for r in nested(uri, "half") if r.data.tags.get("nnlab.kind") == "trial"]
    assert len(trials) == 1 and trials[0].info.status == "FINISHED"


def test_tracking_without_a_uri_or_without_mlflow_is_a_clear_exit_2(tmp_path, make_run, monkeypatch):
    make_run(tmp_path / "runs", "r", [0.3])
    monkeypatch.delenv("NNLAB_TRACKING_URI", raising=False)
    result = runner.invoke(app, ["track", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "--to URI" in result.output
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # (as if the extra were not installed)
    result = runner.invoke(app, ["track", str(tmp_path / "runs"), "--to", store(tmp_path)])
    assert result.exit_code == 2 and "pip install 'nnlab[track]'" in result.output
    result = runner.invoke(app, ["track", str(tmp_path), "--to", store(tmp_path)])
    assert result.exit_code == 2


@pytest.mark.slow
def test_a_sweep_tracked_on_an_sqlite_store_without_a_server_sends_every_trial_with_its_curves(tmp_path):
    from nnlab.runs.folder import RunFolder

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(60, 3)), y=rng.integers(0, 2, 60))
    (tmp_path / "s.yaml").write_text("name: s\ndata: {source: npz, path: d.npz}\nmodel: {kind: mlp, layers: 1, "
                                     "units: {choice: [4, 8]}}\ntrain: {epochs: 3}\n"
                                     "search: {tuner: grid, max_trials: 2}\n")
    uri = store(tmp_path)
    result = runner.invoke(app, ["run", str(tmp_path / "s.yaml"), "--runs-dir", str(tmp_path / "runs"), "-q",
                                 "--track", uri, "--experiment", "team"])
    assert result.exit_code == 0, result.output
    runs = nested(uri, "team")
    trials = {r.data.tags["nnlab.trial"]: r for r in runs if r.data.tags.get("nnlab.kind") == "trial"}
    assert sorted(trials) == ["0", "1"] and sum(r.data.tags.get("nnlab.kind") == "run" for r in runs) == 1
    folder = RunFolder(tmp_path / "runs" / "s")
    from nnlab.runs.tracking import client

    for trial_id, run in trials.items():
        history = folder.history(trial_id)[0]
        logged = [m.value for m in client(uri).get_metric_history(run.info.run_id, "val_loss")]
        assert logged == pytest.approx(history["val_loss"])


def test_compare_reads_a_team_s_runs_from_the_tracking_server(tmp_path, make_run):
    make_run(tmp_path / "alice", "mlp-a", [0.5, 0.4])
    make_run(tmp_path / "bob", "mlp-b", [0.3, None, 0.35], statuses=["completed", "failed", "completed"])
    uri = store(tmp_path)
    for who in ("alice", "bob"):
        assert runner.invoke(app, ["track", str(tmp_path / who), "--to", uri, "--experiment", "team"]).exit_code == 0
    result = runner.invoke(app, ["compare", uri, "--format", "json"])
    assert result.exit_code == 0, result.output
    import json

    rows = {r["run"]: r for r in json.loads(result.output)}
    assert rows["mlp-a"]["best_score"] == 0.4 and rows["mlp-a"]["best_trial"] == "1"
    assert rows["mlp-b"]["best_score"] == 0.3 and (rows["mlp-b"]["completed"], rows["mlp-b"]["failed"]) == (2, 1)
    assert rows["mlp-b"]["best_hyperparameters"] == {"units": 16, "activation": "relu"}
    assert rows["mlp-a"]["host"] == socket.gethostname() and rows["mlp-a"]["experiment"] == "team"
    both = runner.invoke(app, ["compare", str(tmp_path / "alice"), uri, "--experiment", "team", "--sort",
                               "best_score"])  # (a folder and the server side by side)
    assert both.exit_code == 0 and both.output.count("mlp-a") == 2 and "host" in both.output
    wrong = runner.invoke(app, ["compare", uri, "--experiment", "teem"])
    assert wrong.exit_code == 2 and "did you mean `team`" in wrong.output


def test_where_a_run_is_tracked_flag_then_spec_then_environment(monkeypatch):
    from nnlab.errors import RunError
    from nnlab.runs import tracking
    from nnlab.spec.loader import spec_from_dict as load_spec
    from nnlab.spec.loader import spec_hash

    monkeypatch.delenv(tracking.ENV, raising=False)
    spec = load_spec({"data": {"source": "sklearn:iris"}, "model": {"kind": "mlp"}})
    tracked = load_spec({"data": {"source": "sklearn:iris"}, "model": {"kind": "mlp"},
                         "track": {"uri": "sqlite:///team.db", "experiment": "course"}})
    assert spec_hash(tracked) == spec_hash(spec)  # (where a run is sent is not what it searches: it resumes)
    assert tracking.settings(spec) is None
    monkeypatch.setenv(tracking.ENV, "http://lab:5000")
    assert tracking.settings(spec).uri == "http://lab:5000"
    chosen = tracking.settings(tracked)
    assert (chosen.uri, chosen.experiment, chosen.model) == ("sqlite:///team.db", "course", False)
    chosen = tracking.settings(tracked, "http://other:5000", None, True)
    assert (chosen.uri, chosen.experiment, chosen.model) == ("http://other:5000", "course", True)
    with pytest.raises(RunError, match="a tracking URI begins with"):
        tracking.settings(spec, "lab-server:5000x")


# ---- a real `mlflow server`


def free_port() -> int:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return free.getsockname()[1]


@contextlib.contextmanager
def mlflow_server(db, port: int):
    """`mlflow server` on 127.0.0.1:port with an SQLite store, stopped on leaving (its URI)."""
    uri = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              cwd=db.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True,
                              env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})  # (GenAI jobs)
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"{uri}/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        yield uri
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def state(uri: str, experiment: str) -> dict:
    """What a server holds of an experiment's nnlab runs, ids left out: {(kind, trial): (status, params,
    curves, …)}, to tell two servers' states apart."""
    from nnlab.runs.tracking import client

    mlflow_client = client(uri)
    runs = mlflow_client.search_runs([mlflow_client.get_experiment_by_name(experiment).experiment_id])
    out = {}
    for run in runs:
        tags = run.data.tags
        key = (tags["nnlab.kind"], tags.get("nnlab.trial", ""))
        assert key not in out, f"{key} twice"
        curves = {name: [m.value for m in mlflow_client.get_metric_history(run.info.run_id, name)]
                  for name in run.data.metrics}
        out[key] = (run.info.status, run.data.params, curves, tags.get("nnlab.status"), tags.get("nnlab.best_trial"))
    return out


def write_sweep(folder, extra: str, epochs: int = 3) -> None:
    rng = np.random.default_rng(0)
    np.savez(folder / "d.npz", x=rng.normal(size=(60, 3)), y=rng.integers(0, 2, 60))
    (folder / "s.yaml").write_text("name: s\ndata: {source: npz, path: d.npz}\nmodel: {kind: mlp, layers: 1, "
                                   f"units: {{int: [2, 64]}}}}\ntrain: {{epochs: {epochs}}}\nsearch: {extra}\n")


def wait_for_trials(run_dir, count: int, process, timeout: float = 300) -> None:
    from nnlab.runs import files

    end = time.monotonic() + timeout
    while time.monotonic() < end and process.poll() is None:
        trials = run_dir / files.TRIALS
        if trials.is_file() and len(trials.read_text().splitlines()) > count:
            return
        time.sleep(0.1)
    raise AssertionError(f"no {count} trial(s) in {run_dir} (exit {process.poll()})")


@pytest.mark.slow
def test_a_real_server_holds_each_trial_of_a_killed_resumed_and_cut_off_sweep_of_two_workers_once(tmp_path):
    """A packed sweep on 2 workers tracked live by its chief against `mlflow server`: killed (SIGKILL, every
    process) once a trial has ended and resumed; during the resumed sweep the server stops, and the sweep
    completes with a warning; with the server back, `nnlab track` leaves it holding exactly what a store
    that never stopped holds: one parent, one nested run per trial, scores as trials.csv, curves as the
    trials' progress files. MLflow's UI, in a headless browser, shows the run and its trials."""
    from nnlab.runs.folder import RunFolder

    write_sweep(tmp_path, "{tuner: random, max_trials: 8, pack: 2}", epochs=20)
    port, db, run_dir = free_port(), tmp_path / "server.db", tmp_path / "runs" / "s"
    command = [sys.executable, "-m", "nnlab", "run", "s.yaml", "--runs-dir", "runs", "-q", "--workers", "2",
               "--track", f"http://127.0.0.1:{port}"]
    with mlflow_server(db, port):
        killed = subprocess.Popen(command, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        wait_for_trials(run_dir, 1, killed)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
        before = len(RunFolder(run_dir).load().records)
        resumed = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for_trials(run_dir, before + 1, resumed)
    output, _ = resumed.communicate(timeout=600)  # (the server has stopped: the sweep goes on)
    assert resumed.returncode == 0 and "could not reach the tracking server" in output, output[-2000:]
    with mlflow_server(db, port) as uri:
        later = runner.invoke(app, ["track", str(run_dir), "--to", uri])
        assert later.exit_code == 0, later.output
        held = state(uri, "s")
        seen_in_the_ui(uri, "s", len(held))
    whole = store(tmp_path)  # (a store that never stopped)
    assert runner.invoke(app, ["track", str(run_dir), "--to", whole]).exit_code == 0
    assert held == state(whole, "s")
    folder = RunFolder(run_dir)
    records = folder.load().records
    assert sorted(held) == [("run", ""), *[("trial", str(i)) for i in range(8)]]  # (each once: `state` checks)
    assert {r.worker for r in records} <= {"worker1", "worker2"} and held[("run", "")][3] == "completed"
    for record in records:
        status, params, curves, *_ = held[("trial", record.trial_id)]
        assert curves["score"] == [pytest.approx(record.score)] and params["units"] == str(
            record.hyperparameters["units"])
        assert curves["val_loss"] == pytest.approx(folder.history(record.trial_id)[0]["val_loss"])


def seen_in_the_ui(uri: str, experiment: str, runs: int) -> None:
    """MLflow's own UI in a headless Chromium, on the experiment's page: the run and its nested runs (the
    page counts them). Without Chromium (apt-get install chromium), not checked."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        return
    from nnlab.runs.tracking import client

    experiment_id = client(uri).get_experiment_by_name(experiment).experiment_id
    parent = client(uri).search_runs([experiment_id], "tags.`nnlab.kind` = 'run'")[0]
    page = f"{uri}/#/experiments/{experiment_id}/runs"
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
                          "--dump-dom", page], capture_output=True, text=True, timeout=120).stdout
    text = re.sub(r"<[^>]+>", "", dom.replace("<!-- -->", ""))
    assert f'href="#/experiments/{experiment_id}/runs/{parent.info.run_id}"' in dom, text[-3000:]  # (its row)
    assert f"{runs} matching runs" in text, text[-3000:]  # (the run and its trials, nested under it)
