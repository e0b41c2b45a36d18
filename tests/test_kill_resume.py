"""Fault injection in CI: a small sweep killed with SIGKILL at each kind of moment, resumed each time.

The larger version (random moments, many kills) is `python benchmarks/kill_resume.py`.
"""

from __future__ import annotations

import signal

import pytest

from .killharness import Harness

pytestmark = pytest.mark.slow

KILLS = [
    "startup",        # before any trial
    "epoch:3",        # in the middle of the second trial
    "trial_end:1",    # Keras Tuner has recorded a trial; trials.csv not yet rewritten
    "write:2",        # an nnlab file written to its temporary name, not renamed
    "tuner_write:6",  # Keras Tuner saved a finished trial, not yet its oracle: without nnlab's repair,
                      # the finished trial would be trained again
    "refit",          # the search is over, the best configuration is being refitted: the resume refits
                      # again and trains no trial
]


def test_killed_at_every_kind_of_moment_and_resumed(tmp_path):
    harness = Harness(tmp_path, trials=4, epochs=2)
    for kill in KILLS:
        code, output = harness.run(kill_at=kill)
        assert code in (-signal.SIGKILL, 0), f"{kill}: exit {code}\n{output}"
    assert harness.kills >= 4, "most kill points should have been reached"
    harness.finish()
    import csv

    with (harness.run_dir / "trials.csv").open(newline="") as fh:  # the trial killed at its end included
        completed = [row for row in csv.DictReader(fh) if row["status"] == "completed"]
    assert completed and all(row["epochs"] and row["seconds"] and row["best_epoch"] for row in completed), completed


def test_killed_while_building_the_ensemble_and_resumed(tmp_path):
    """search.ensemble: a kill once the members are refitted, before best.keras is written, refits them
    again on resume and trains no trial."""
    harness = Harness(tmp_path, trials=3, epochs=2, ensemble=2)
    code, output = harness.run(kill_at="refit")
    assert code == -signal.SIGKILL, output
    code, output = harness.run()
    assert code == 0 and "trial 0 started" not in output and output.count("refit: trial") == 2, output
    harness.check()


def test_killed_while_pruning_and_resumed(tmp_path):
    """search.pruning across kills: the resumed process reads the completed trials' curves from the run
    folder, a trial pruned before a kill stays pruned, and none is trained again."""
    harness = Harness(tmp_path, trials=9, epochs=4, pruning=True)
    for kill in ("epoch:22", "trial_end:2"):  # in the trials after the 5 startup ones (counted per process)
        code, output = harness.run(kill_at=kill)
        assert code == -signal.SIGKILL, f"{kill}: exit {code}\n{output}"
    harness.finish()
    rows = (harness.run_dir / "trials.csv").read_text()
    assert ",pruned," in rows, rows


def test_ctrl_c_says_the_command_that_resumes_even_after_overwrite(tmp_path):
    """Ctrl-C of `nnlab run --overwrite --yes` names the command that resumes (not the one that would
    delete the completed trials), and that command keeps them."""
    import os
    import shlex
    import subprocess
    import sys

    harness = Harness(tmp_path, trials=3, epochs=2)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "nnlab", "run", str(harness.spec), "--runs-dir", str(harness.runs),
               "--name", "ow", "--overwrite", "--yes"]
    # Ctrl-C as a terminal delivers it. A shell without job control starts background commands with SIGINT
    # ignored, and children inherit that (then Python installs no KeyboardInterrupt handler): undo it.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in proc.stdout:  # interrupt once the first trial has completed
        lines.append(line)
        if "] trial 0 val_loss" in line:
            proc.send_signal(signal.SIGINT)
            break
    output = "".join(lines) + proc.communicate(timeout=300)[0]
    assert proc.returncode == 130, output
    resume = [line for line in output.splitlines() if line.startswith("to resume: ")]
    assert resume, output
    words = shlex.split(resume[0].removeprefix("to resume: "))
    assert words[:2] == ["nnlab", "run"] and "--overwrite" not in words and words[words.index("--name") + 1] == "ow"
    again = subprocess.run([sys.executable, "-m", "nnlab", *words[1:]], capture_output=True, text=True, env=env,
                           timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resuming: 1 trial(s) already done" in again.stdout
    assert "trial 0 started" not in again.stdout  # the completed trial was kept, not trained again


def test_one_process_per_run_folder_and_no_stale_lock_after_kill_9(tmp_path):
    """A second `nnlab run` on a folder another process is running exits 2 at once, naming it; after a
    kill -9 of the holder, the resume starts at once (the operating system dropped the lock)."""
    import os
    import subprocess
    import sys

    harness = Harness(tmp_path, trials=3, epochs=2)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "nnlab", "run", str(harness.spec), "--runs-dir", str(harness.runs)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        for line in first.stdout:  # wait until it trains
            if "trial 0 started" in line:
                break
        second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        assert second.returncode == 2, second.stdout + second.stderr
        message = second.stdout + second.stderr
        assert f"is being run by nnlab run (process {first.pid} on" in message and "Traceback" not in message
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    code, output = harness.run()  # at once: no stale lock to remove
    assert code == 0, output
    harness.check()
