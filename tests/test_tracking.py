"""Runs on an MLflow tracking store (`nnlab run --track`, `nnlab track`): each trial once, found again by
its tags, curves epoch by epoch as the run folder has them, and a server that cannot be reached never
failing a sweep. MLflow is the optional `track` extra: without it these tests are skipped."""

from __future__ import annotations

import sys

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
    experiment = mlflow_client.create_experiment("half")
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
def test_a_tracked_sweep_sends_every_trial_with_its_curves_and_a_dead_server_only_warns(tmp_path):
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
    dead = runner.invoke(app, ["run", str(tmp_path / "s.yaml"), "--runs-dir", str(tmp_path / "runs"), "-q",
                               "--name", "s2", "--track", "http://127.0.0.1:9"])
    assert dead.exit_code == 0 and "could not reach the tracking server" in dead.output
    later = runner.invoke(app, ["track", str(tmp_path / "runs" / "s2"), "--to", uri])
    assert later.exit_code == 0 and "2 trial(s) sent" in later.output


@pytest.mark.slow
def test_a_real_server_holds_each_trial_of_a_killed_and_resumed_packed_sweep_once(tmp_path):
    """`mlflow server` on 127.0.0.1 with an SQLite store; a packed sweep tracked live, killed (SIGKILL)
    as its second trial ends, then resumed: one parent, one nested run per trial, curves as the folder's."""
    import os
    import signal
    import socket
    import subprocess
    import time
    import urllib.request

    from nnlab.runs.folder import RunFolder
    from nnlab.runs.tracking import client

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                               f"sqlite:///{tmp_path / 'server.db'}", "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(180):
            try:
                if urllib.request.urlopen(f"{uri}/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        rng = np.random.default_rng(0)
        np.savez(tmp_path / "d.npz", x=rng.normal(size=(60, 3)), y=rng.integers(0, 2, 60))
        (tmp_path / "s.yaml").write_text("name: s\ndata: {source: npz, path: d.npz}\nmodel: {kind: mlp, layers: 1, "
                                         "units: {int: [2, 64]}}\ntrain: {epochs: 3}\n"
                                         "search: {tuner: random, max_trials: 3, pack: 2}\n")
        command = [sys.executable, "-m", "nnlab", "run", "s.yaml", "--runs-dir", "runs", "-q", "--track", uri]
        killed = subprocess.run(command, cwd=tmp_path, env={**os.environ, "NNLAB_KILL_AT": "trial_end:2"},
                                capture_output=True, text=True, timeout=600)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        resumed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        mlflow_client = client(uri)
        runs = mlflow_client.search_runs([mlflow_client.get_experiment_by_name("s").experiment_id])
        trials = [r for r in runs if r.data.tags.get("nnlab.kind") == "trial"]
        assert sum(r.data.tags.get("nnlab.kind") == "run" for r in runs) == 1
        assert sorted(r.data.tags["nnlab.trial"] for r in trials) == ["0", "1", "2"]  # (each once)
        folder = RunFolder(tmp_path / "runs" / "s")
        for run in trials:
            logged = [m.value for m in mlflow_client.get_metric_history(run.info.run_id, "val_loss")]
            assert logged == pytest.approx(folder.history(run.data.tags["nnlab.trial"])[0]["val_loss"])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
