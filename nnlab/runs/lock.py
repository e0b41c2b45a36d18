"""One process per run folder: `RunLock`.

A sweep, a chief or `nnlab retrain` holds an exclusive operating-system lock (`fcntl.flock`) on a
small file beside its run folder, `runs/.NAME.lock`, for as long as it works on the folder (and
removes it when done). A second
process that wants the same folder (another terminal, a requeued batch job while the first still
runs) gets a clear error at once instead of rewriting the same files. The operating system drops the
lock when the holder ends, however it ends: after a `kill -9` the next run starts at once, with no
stale lock to remove. The file also says who holds it, for the message. Workers of a chief do not
take it: the chief holds it for them.

The lock is advisory and local: on a network file system, processes on different machines may not
see each other's lock (use one chief per run there).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from nnlab.errors import RunError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs are then not kept apart
    fcntl = None


class RunLock:
    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir.parent / f".{self.run_dir.name}.lock"
        self._handle = None

    def check(self) -> None:
        """Fail at once if another process holds the folder; create nothing (before slow work, such as
        reading the data, that would only be wasted)."""
        if fcntl is None or not self.path.is_file():
            return
        with open(self.path, encoding="utf-8") as handle:
            if not _try_lock(handle):
                raise self._held(handle)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def acquire(self, what: str) -> RunLock:
        """Hold the lock for `what` ("nnlab run", "nnlab retrain", …), or raise a RunError naming the
        process that holds it."""
        if fcntl is None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
            if not _try_lock(handle):
                error = self._held(handle)
                handle.close()
                raise error
            # The holder before us may have removed the file as it let go: lock the file that is there now.
            if self.path.is_file() and os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino:
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        """Let go, and remove the lock file (a run leaves nothing behind but its folder)."""
        if self._handle is not None:
            self.path.unlink(missing_ok=True)
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _held(self, handle) -> RunError:
        handle.seek(0)
        return RunError(f"{self.run_dir} is being run by {_holder(handle.read())}; wait for it to finish or stop "
                        "it (Ctrl-C, or kill its process), then run this again")


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"{info['what']} (process {info['pid']} on {info['host']}, since {info['since']})"
    except (ValueError, KeyError, TypeError):
        return "another process"
