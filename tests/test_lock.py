"""One process per run folder (the lock itself; two real processes in test_kill_resume)."""

from __future__ import annotations

import os

import pytest

from nnlab.errors import RunError
from nnlab.runs.lock import RunLock


def test_a_held_run_folder_is_refused_with_who_holds_it(tmp_path):
    first = RunLock(tmp_path / "runs" / "r").acquire("nnlab run")
    with pytest.raises(RunError, match=rf"is being run by nnlab run \(process {os.getpid()} on .*, since"):
        RunLock(tmp_path / "runs" / "r").acquire("nnlab retrain")
    RunLock(tmp_path / "runs" / "other").acquire("nnlab run").release()  # another folder is free
    first.release()
    with RunLock(tmp_path / "runs" / "r").acquire("nnlab retrain"):
        pass
    assert not (tmp_path / "runs" / "r").exists()  # the lock lives beside the folder, not in it
    assert not (tmp_path / "runs" / ".r.lock").exists()  # and is gone once let go
