"""Parallel sweeps on Keras Tuner's chief/worker engine: real processes on localhost (tiny sweeps),
a worker killed mid-trial, the chief and worker commands, and the checks that need no training."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.distributed.chief import Chief, parse_address
from nnlab.distributed.gpus import parse_gpus
from nnlab.distributed.workers import check_worker_id
from nnlab.errors import NnlabError
from nnlab.runs import files as results

runner = CliRunner()

SPEC = """
name: par
seed: 3
data: {source: "sklearn:digits"}
model: {kind: mlp, layers: {int: [1, 3]}, units: {choice: [8, 16, 32]}}
train: {epochs: 2, batch_size: 128}
search: {max_trials: 4, objective: val_accuracy}
"""


def nnlab(*args, env=None, timeout=240):
    """`nnlab ARGS` in a fresh process: (exit code, stdout + stderr)."""
    proc = subprocess.run([sys.executable, "-m", "nnlab", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})})
    return proc.returncode, proc.stdout + proc.stderr


def trials(run_dir) -> list:
    summary = results.read_json(run_dir / results.SUMMARY)
    return results.read_trials(run_dir / results.TRIALS, summary["hyperparameter_names"], summary["metric_names"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- no training


@pytest.mark.parametrize("text", ["localhost", "host:", ":80", "host:http", "host:70000"])
def test_bad_addresses_are_refused(text):
    with pytest.raises(NnlabError, match="HOST:PORT"):
        parse_address(text, "--bind")


def test_addresses_and_ids():
    assert parse_address("10.0.0.5:8000", "--chief") == ("10.0.0.5", 8000)
    assert parse_address("[::1]:9000", "--chief") == ("::1", 9000)
    assert parse_gpus("0, 1,3") == ["0", "1", "3"]
    with pytest.raises(NnlabError, match="GPU numbers"):
        parse_gpus("0,a")
    assert check_worker_id("gpu-box-3") == "gpu-box-3"
    for bad in ("my-chief", "two words", ""):
        with pytest.raises(NnlabError, match="worker id"):
            check_worker_id(bad)


class _Oracle:
    def __init__(self):
        self.ongoing_trials = {"w1": SimpleNamespace(trial_id="3")}
        self.tuner_ids = {"w1", "w2"}
        self._retry_queue = []
        self.saved = 0

    def save(self):
        self.saved += 1


def test_a_silent_worker_is_dropped_and_its_trial_goes_back_to_the_queue():
    warnings = []
    sweep = SimpleNamespace(reporter=SimpleNamespace(warn=warnings.append))
    chief = Chief(sweep, "127.0.0.1", 0, worker_timeout=0.05)
    chief.tuner = SimpleNamespace(oracle=_Oracle())
    chief.seen("w1")
    chief.check_silent_workers()
    assert [t.trial_id for t in chief.oracle.ongoing_trials.values()] == ["3"] and not warnings  # not yet
    time.sleep(0.1)
    chief.check_silent_workers()
    assert chief.oracle.ongoing_trials == {} and chief.oracle._retry_queue == ["3"]
    assert chief.oracle.tuner_ids == {"w2"} and chief.oracle.saved == 1
    assert "worker w1 sent nothing for" in warnings[0] and "trial 3 goes to another worker" in warnings[0]


@pytest.mark.parametrize(("status", "code"), [("completed", 0), ("stopped", 0), ("running", 3), (None, 3)])
def test_a_worker_without_a_chief_reads_whether_the_search_ended(tmp_path, status, code):
    """A chief that stopped answering had ended the search (a worker came back late to a restarted chief
    that finished without it): exit 0, said; a chief gone mid-search (or no readable summary): exit 3."""
    from nnlab.distributed.link import leave_without_chief
    from nnlab.runs.records import Summary

    if status:
        results.write_summary(tmp_path / results.SUMMARY, Summary(run="par", status=status))
    said, warned = [], []
    reporter = SimpleNamespace(say=said.append, warn=warned.append)
    assert leave_without_chief(tmp_path, "wa", 60, reporter) == code
    if code == 0:
        assert said == [f"worker wa: the chief has ended the search ({tmp_path / results.SUMMARY} says {status})"]
    else:
        assert not said and "the chief stopped answering for 60 s; exiting (code 3)" in warned[0]


def test_gpus_on_a_machine_without_one_is_a_clear_error(write, tmp_path):
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    spec = write("par.yaml", SPEC)
    result = runner.invoke(app, ["run", str(spec), "--runs-dir", str(tmp_path / "runs"), "--gpus", "0,1"])
    assert result.exit_code == 2
    assert "TensorFlow sees no GPU on this machine" in result.output and "--workers N" in result.output
    assert not (tmp_path / "runs").exists()


def test_a_worker_without_a_chief_says_so(write, tmp_path):
    spec = write("par.yaml", SPEC)
    code, output = nnlab("worker", spec, "--chief", f"127.0.0.1:{free_port()}", "--wait", "1",
                         "--runs-dir", tmp_path / "runs")
    assert code == 2 and "no chief answered" in output and "Traceback" not in output


# ---- real sweeps


@pytest.mark.slow
def test_two_workers_on_localhost_then_resume(write, tmp_path):
    spec = write("par.yaml", SPEC)
    code, output = nnlab("run", spec, "--runs-dir", tmp_path / "runs", "--workers", "2")
    assert code == 0, output
    run_dir = tmp_path / "runs" / "par"
    rows = trials(run_dir)
    assert len(rows) == 4 and all(r.status == "completed" for r in rows)
    assert {r.worker for r in rows} <= {"worker1", "worker2"} and all(r.worker for r in rows)
    assert (run_dir / results.BEST_MODEL).is_file()
    summary = results.read_json(run_dir / results.SUMMARY)
    assert summary["status"] == "completed" and summary["completed"] == 4
    assert "started on worker" in output and "Traceback" not in output
    # compare shows who trained each trial
    code, table = nnlab("compare", run_dir)
    assert code == 0 and "worker" in table
    # resumed with more trials: the four are kept
    code, output = nnlab("run", spec, "--runs-dir", tmp_path / "runs", "--workers", "2",
                         "--set", "search.max_trials=5")
    assert code == 0, output
    rows = trials(run_dir)
    assert len(rows) == 5 and all(r.status == "completed" for r in rows)
    assert output.count("started on") == 1


@pytest.mark.slow
def test_parallel_workers_prune_against_the_curves_in_the_run_folder(write, tmp_path):
    """search.pruning with workers: each worker reads the completed trials' curves (written by either
    worker) from the run folder; the chief records the pruned trials from the workers' files."""
    rates = "learning_rate: {float: [0.00001, 0.01], log: true}"
    spec = write("par.yaml", SPEC.replace("max_trials: 4", "max_trials: 10, pruning: median").replace(
        "epochs: 2, batch_size: 128}", f"epochs: 4, batch_size: 128, {rates}}}"))
    code, output = nnlab("run", spec, "--runs-dir", tmp_path / "runs", "--workers", "2", timeout=400)
    assert code == 0, output
    rows = trials(tmp_path / "runs" / "par")
    pruned = [r for r in rows if r.status == "pruned"]
    assert len(rows) == 10 and pruned, output
    assert all(r.score is not None and "median" in r.reason and r.worker for r in pruned)
    summary = results.read_json(tmp_path / "runs" / "par" / results.SUMMARY)
    assert summary["pruned"] == len(pruned) and summary["completed"] == 10 - len(pruned)


@pytest.mark.slow
def test_a_worker_killed_mid_trial_is_restarted_and_every_trial_is_accounted_for(write, tmp_path):
    spec = write("par.yaml", SPEC)
    code, output = nnlab("run", spec, "--runs-dir", tmp_path / "runs", "--workers", "2",
                         env={"NNLAB_KILL_WORKER_AT": "epoch:1"})
    assert code == 0, output
    assert "worker worker1 was killed by signal 9; restarting it" in output
    rows = trials(tmp_path / "runs" / "par")
    assert sorted(r.trial_id for r in rows) == ["0", "1", "2", "3"]
    assert all(r.status == "completed" and r.score is not None for r in rows)
    oracle = results.read_json(tmp_path / "runs" / "par" / results.TUNER_DIR / "oracle.json")
    assert oracle["ongoing_trials"] == {} and oracle["retry_queue"] == []


@pytest.mark.slow
def test_a_trial_that_keeps_crashing_its_worker_is_failed_and_the_sweep_finishes(write, tmp_path):
    spec = write("par.yaml", SPEC)
    code, output = nnlab("run", spec, "--runs-dir", tmp_path / "runs", "--workers", "2",
                         env={"NNLAB_KILL_WORKER_AT": "epoch:1:always"})
    assert code == 0, output
    rows = trials(tmp_path / "runs" / "par")
    assert sorted(r.trial_id for r in rows) == ["0", "1", "2", "3"]
    failed = [r for r in rows if r.status == "failed"]
    assert failed and all(r.reason.startswith("the trial crashed its worker 2 times") for r in failed), rows
    assert any(r.status == "completed" for r in rows)  # (the other worker finished the rest)
    oracle = results.read_json(tmp_path / "runs" / "par" / results.TUNER_DIR / "oracle.json")
    assert oracle["ongoing_trials"] == {}


@pytest.mark.slow
def test_a_pack_that_crashes_its_worker_fails_only_the_trial_that_crashed_it(write, tmp_path):
    spec = write("pk.yaml", SPEC.replace("max_trials: 4,", "max_trials: 4, pack: 4,"))
    code, output = nnlab("run", spec, "--runs-dir", tmp_path / "runs", "--workers", "1",
                         env={"NNLAB_CRASH_TRIAL": "1"})
    assert code == 0, output
    assert "the 4 trials of its pack (0, 1, 2, 3) are retried, each alone" in output
    rows = {r.trial_id: r for r in trials(tmp_path / "runs" / "par")}
    assert rows["1"].status == "failed" and rows["1"].reason.startswith("the trial crashed its worker 2 times")
    assert all(rows[i].status == "completed" for i in ("0", "2", "3")), rows


@pytest.mark.slow
def test_chief_and_worker_commands(write, tmp_path):
    spec = write("par.yaml", SPEC.replace("max_trials: 4", "max_trials: 2"))
    port = free_port()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    chief = subprocess.Popen([sys.executable, "-m", "nnlab", "chief", str(spec), "--bind", f"127.0.0.1:{port}",
                              "--runs-dir", str(tmp_path / "runs")], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env)
    try:
        code, output = nnlab("worker", spec, "--chief", f"127.0.0.1:{port}", "--id", "box-a",
                             "--runs-dir", tmp_path / "runs")
        assert code == 0, output
        assert "the chief says the search is over" in output
        chief_output, _ = chief.communicate(timeout=60)
    finally:
        chief.kill()
    assert chief.returncode == 0, chief_output
    assert "trial 0 (box-a)" in chief_output
    rows = trials(tmp_path / "runs" / "par")
    assert [r.worker for r in rows] == ["box-a", "box-a"]


@pytest.mark.slow
def test_mirrored_strategy_in_one_process(write, tmp_path):
    from nnlab.engine.sweep import run
    from nnlab.spec.loader import load_spec

    spec = load_spec(write("par.yaml", SPEC), ["search.max_trials=1", "train.epochs=1"])
    result = run(spec, tmp_path / "runs", quiet=True, strategy="mirrored")
    assert result.exit_code == 0 and result.summary.completed == 1
    assert result.summary.device.endswith("MirroredStrategy (1 replica)")


def test_a_workers_warnings_and_errors_are_relayed_with_one_prefix():
    import io

    from rich.console import Console

    from nnlab.distributed.workers import LocalWorkers
    from nnlab.progress import Reporter

    out = io.StringIO()
    workers = LocalWorkers([], [], [], Reporter(console=Console(file=out, width=200)))
    workers._echo("worker2", io.StringIO("warning: worker worker2 interrupted\nerror: bad spec\nplain line\n"))
    assert out.getvalue().splitlines() == ["warning: [worker2] worker worker2 interrupted",
                                           "error: [worker2] bad spec", "warning: [worker2] plain line"]


def _start(*args, log):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "nnlab", *map(str, args)], stdout=log, stderr=subprocess.STDOUT,
                            env=env)


def _wait_for(path, text, count=1, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.read_text(errors="replace").count(text) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not seen {count} time(s) in {path}:\n{path.read_text()[-3000:]}")


def _tails(logs) -> str:
    return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}" for path in logs)


@pytest.mark.slow
def test_a_killed_chief_restarted_trains_no_trial_twice_and_workers_leave_a_dead_one(write, tmp_path):
    """kill -9 of the chief. Started again within the workers' --chief-timeout, it hands out no trial that a
    worker still trains or has reported (each trial starts once in all); not started again, both workers
    say so and exit with code 3 within the bound, without a traceback."""
    spec = write("par.yaml", SPEC.replace("epochs: 2", "epochs: 6").replace("max_trials: 4", "max_trials: 6"))
    port, runs, logs = free_port(), tmp_path / "runs", [tmp_path / f"{n}.log" for n in ("c1", "c2", "wa", "wb")]
    handles = [path.open("w") for path in logs]
    chief = _start("chief", spec, "--bind", f"127.0.0.1:{port}", "--runs-dir", runs, log=handles[0])
    workers = [_start("worker", spec, "--chief", f"127.0.0.1:{port}", "--id", name, "--runs-dir", runs,
                      "--chief-timeout", "60", log=handle) for name, handle in zip(("wa", "wb"), handles[2:])]
    try:
        _wait_for(logs[0], ") val_accuracy ")  # a trial has ended; the workers train the next ones
        chief.kill()
        chief.wait()
        chief = _start("chief", spec, "--bind", f"127.0.0.1:{port}", "--runs-dir", runs, log=handles[1])
        assert [w.wait(timeout=240) for w in workers] == [0, 0], _tails(logs[1:])
        assert chief.wait(timeout=120) == 0, _tails(logs[1:])
        started = [line.split(" started on ")[0].split()[-1] for path in logs[:2]
                   for line in path.read_text().splitlines() if " started on " in line]
        assert sorted(started) == [str(i) for i in range(6)], started  # each trial trained once
        rows = trials(runs / "par")
        assert sorted(r.trial_id for r in rows) == [str(i) for i in range(6)]
        assert all(r.status == "completed" and r.worker in ("wa", "wb") for r in rows), rows

        spec = write("b.yaml", SPEC.replace("epochs: 2", "epochs: 200").replace("name: par", "name: b"))
        before = logs[1].read_text().count(" started on ")
        chief = _start("chief", spec, "--bind", f"127.0.0.1:{port}", "--runs-dir", runs, log=handles[1])
        workers = [_start("worker", spec, "--chief", f"127.0.0.1:{port}", "--id", name, "--runs-dir", runs,
                          "--chief-timeout", "10", log=handle) for name, handle in zip(("wa", "wb"), handles[2:])]
        _wait_for(logs[1], " started on ", count=before + 2)  # both workers train
        chief.kill()
        killed = time.monotonic()
        codes = [w.wait(timeout=120) for w in workers]
        waited = time.monotonic() - killed
        output = logs[2].read_text() + logs[3].read_text()
        assert codes == [3, 3] and waited < 10 + 60, (codes, waited, output[-2000:])  # the bound, and a margin
        assert output.count("the chief stopped answering for 10 s") == 2 and "Traceback" not in output
    finally:
        for process in [chief, *workers]:
            process.kill()
        for handle in handles:
            handle.close()


def test_a_restarted_chief_holds_back_a_trial_its_predecessor_handed_out_unsaid(tmp_path):
    """Keras Tuner saves a new trial's trial.json before oracle.json: a chief killed between the two had
    handed the trial out though its oracle never said so. The next chief holds it back too (for whoever
    reports on it), rather than handing it to another worker while the first still trains it."""
    from nnlab.distributed.restart import Orphans

    tuner = tmp_path / "tuner"
    for trial_id, status in (("0", "COMPLETED"), ("1", "RUNNING"), ("2", "RUNNING")):
        (tuner / f"trial_{trial_id}").mkdir(parents=True)
        (tuner / f"trial_{trial_id}" / "trial.json").write_text(f'{{"status": "{status}"}}')
    (tuner / "oracle.json").write_text('{"ongoing_trials": {"worker1": "1"}, "end_order": ["0"]}')
    orphans = Orphans.saved(tuner)
    assert orphans.held == {"1": "worker1", "2": None}
    trial = SimpleNamespace(status="RUNNING")
    oracle = SimpleNamespace(_retry_queue=["1", "2"], ongoing_trials={}, tuner_ids=set(),
                             trials={"1": SimpleNamespace(status="RUNNING"), "2": trial})
    assert orphans.arrange(oracle, "worker3") == ["1", "2"] and oracle._retry_queue == []  # (both held back)
    Orphans.restore(oracle, ["1", "2"])
    orphans.heard(oracle, "2")  # (its worker reports an epoch: the trial is its, under a slot of its own)
    assert oracle._retry_queue == ["1"] and oracle.ongoing_trials == {"orphan-2": trial}
