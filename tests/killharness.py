"""Kill-and-resume harness, shared by tests/test_kill_resume.py (small, in CI) and
benchmarks/kill_resume.py (larger). It runs `nnlab run` in real processes, kills them (at a named
point through NNLAB_KILL_AT, or from outside after a delay, always with SIGKILL), resumes with the
same command, and checks what nnlab promises:

- no trial completed before a kill is trained again after it;
- the sweep ends with exactly max_trials completed trials;
- trials.csv, summary.json, Keras Tuner's state and `nnlab compare` agree;
- no half-written or temporary file is left behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

SPEC = """
name: killme
seed: 2
data: {{source: "sklearn:iris"}}
model: {{kind: mlp, layers: {{int: [1, 2]}}, units: {{choice: [4, 8, 16]}}}}
train: {{epochs: {epochs}, batch_size: 16, learning_rate: {{float: [{lowest_rate}, 0.05], log: true}}}}
search: {{tuner: random, max_trials: {trials}, objective: val_loss, pruning: {pruning}, ensemble: {ensemble},
          pack: {pack}}}
"""
STARTED = re.compile(r"\] trial (\S+) started")


class Harness:
    def __init__(self, folder: Path, trials: int = 4, epochs: int = 2, pruning: bool = False, ensemble: int = 1,
                 pack: int = 1):
        """`pruning`: search.pruning median, with learning rates so low that some trials are pruned.
        `ensemble`: search.ensemble. `pack`: search.pack."""
        self.folder, self.trials, self.ensemble = Path(folder), trials, ensemble
        self.spec = self.folder / "killme.yaml"
        self.spec.write_text(SPEC.format(epochs=epochs, trials=trials, pruning="median" if pruning else "none",
                                         lowest_rate=0.0001 if pruning else 0.005, ensemble=ensemble, pack=pack))
        self.runs = self.folder / "runs"
        self.run_dir = self.runs / "killme"
        self.done: set[str] = set()  # completed in Keras Tuner's state after the last process
        self.processes = 0
        self.kills = 0

    def run(self, kill_at: str | None = None, kill_after: float | None = None, timeout: float = 600):
        """One `nnlab run` process; returns (returncode, output). Checks no completed trial reran."""
        env = {k: v for k, v in os.environ.items() if k != "NNLAB_KILL_AT"}
        if kill_at:
            env["NNLAB_KILL_AT"] = kill_at
        env["PYTHONUNBUFFERED"] = "1"
        command = [sys.executable, "-m", "nnlab", "run", str(self.spec), "--runs-dir", str(self.runs)]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            if kill_after is not None:
                try:
                    proc.wait(kill_after)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
            output, _ = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.processes += 1
        self.kills += proc.returncode == -signal.SIGKILL
        rerun = set(STARTED.findall(output)) & self.done
        assert not rerun, f"completed trials {sorted(rerun)} were trained again:\n{output}"
        assert "Traceback" not in output, output
        self.done = self.completed_in_tuner()
        return proc.returncode, output

    def completed_in_tuner(self) -> set[str]:
        done = set()
        for path in (self.run_dir / "tuner").glob("trial_*/trial.json"):
            try:
                state = json.loads(path.read_text())
            except ValueError:
                continue
            if state.get("status") == "COMPLETED":
                done.add(state["trial_id"])
        return done

    def finish(self) -> None:
        """Resume to the end and check every promise."""
        code, output = self.run()
        assert code == 0, output
        self.check()

    def check(self) -> None:
        import csv

        from nnlab.runs.compare import compare

        with (self.run_dir / "trials.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        ids = [r["trial_id"] for r in rows]
        assert len(ids) == len(set(ids)) == self.trials, ids
        assert all(r["status"] in ("completed", "pruned") for r in rows), rows
        assert self.completed_in_tuner() == set(ids)  # (Keras Tuner holds a pruned trial as completed)
        summary = json.loads((self.run_dir / "summary.json").read_text())
        best = min(float(r["score"]) for r in rows if r["status"] == "completed")
        pruned = sum(r["status"] == "pruned" for r in rows)
        assert summary["status"] == "completed"
        assert summary["trials"] == summary["completed"] + summary.get("pruned", 0) == self.trials
        assert summary.get("pruned", 0) == pruned
        assert abs(summary["best_score"] - best) < 1e-12
        row = compare([self.runs]).rows[0]
        assert row["trials"] == self.trials and row["completed"] == self.trials - pruned
        assert abs(row["best_score"] - best) < 1e-12
        assert (self.run_dir / "best.keras").is_file()
        assert summary["refit"]["trial"] == summary["best_trial"], summary  # search.refit, its default
        if self.ensemble > 1:
            ranked = sorted((r for r in rows if r["status"] == "completed"), key=lambda r: float(r["score"]))
            assert summary["ensemble"]["trials"] == [r["trial_id"] for r in ranked[:self.ensemble]], summary
        leftovers = [p for p in self.run_dir.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name]
        assert not leftovers, leftovers


def timed(fn):
    start = time.monotonic()
    fn()
    return time.monotonic() - start
