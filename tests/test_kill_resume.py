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
]


def test_killed_at_every_kind_of_moment_and_resumed(tmp_path):
    harness = Harness(tmp_path, trials=4, epochs=2)
    for kill in KILLS:
        code, output = harness.run(kill_at=kill)
        assert code in (-signal.SIGKILL, 0), f"{kill}: exit {code}\n{output}"
    assert harness.kills >= 4, "most kill points should have been reached"
    harness.finish()
