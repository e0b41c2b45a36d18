"""Fault injection for the kill-and-resume tests: die at a named moment, as `kill -9` would.

With `NNLAB_KILL_AT=POINT[:N]` in the environment, the N-th time (default the first) the process
passes `kill_point(POINT)`, it sends itself SIGKILL: no cleanup, no flushing, exactly like a job killed
by a scheduler. Without the variable, `kill_point` only reads the environment and returns. The points:

    startup       the tuner is built, no trial has started
    epoch         a trial finished an epoch (mid-trial)
    trial_end     Keras Tuner recorded a trial, nnlab has not yet rewritten trials.csv
    write         an nnlab file is written to its temporary name, not yet renamed
    tuner_write   a Keras Tuner state file is written to its temporary name, not yet renamed
    refit         the best configuration is retrained on every row (search.refit), not yet saved

`NNLAB_KILL_WORKER_AT=POINT[:N]` does the same to the first local worker process of a parallel run
(`nnlab run --workers N`), the first time it is started (its restart runs normally);
`NNLAB_KILL_WORKER_AT=POINT[:N]:always` every time it is started (a trial that crashes its worker).
`NNLAB_CRASH_TRIAL=ID`: any process that begins training trial ID (alone or in a pack) kills itself
(one trial that crashes its worker, however it is packed).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

POINTS = ("startup", "epoch", "trial_end", "write", "tuner_write", "refit")
_passed: Counter = Counter()


def kill_point(point: str) -> None:
    wanted = os.environ.get("NNLAB_KILL_AT")
    if not wanted:
        return
    name, _, count = wanted.partition(":")
    if name != point:
        return
    _passed[point] += 1
    if _passed[point] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def crash_trial(trial_id: str) -> None:
    """SIGKILL this process if NNLAB_CRASH_TRIAL names `trial_id` (as a number: "03" is trial 3)."""
    wanted = os.environ.get("NNLAB_CRASH_TRIAL")
    if wanted and wanted.isdigit() and str(trial_id).isdigit() and int(wanted) == int(trial_id):
        os.kill(os.getpid(), signal.SIGKILL)
