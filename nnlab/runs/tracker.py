"""`Tracker`: while a sweep runs (`nnlab run --track URI`), its run folder synced to an MLflow server
(`runs.tracking.sync`) after each write, in a process of its own: MLflow's import (seconds) and its
HTTP calls never take the sweep's interpreter from training. The sweep only writes a line to the
process's input (`push`); the process syncs once per batch of lines, says what happened in lines the
sweep relays (a server that cannot be reached is one warning per kind of trouble), and makes the last
sync at `close`. What did not reach the server goes with the next sync, or `nnlab track RUN --to URI`.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path


class Tracker:
    def __init__(self, run_dir: Path, track, reporter):
        self.run_dir, self.uri, self.reporter = run_dir, track.uri, reporter
        self._process = subprocess.Popen([sys.executable, "-m", "nnlab.runs.tracker", str(run_dir),
                                          track.model_dump_json()], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self._relay = threading.Thread(target=self._relay_lines, name="nnlab-tracking", daemon=True)
        self._relay.start()

    def push(self) -> None:
        """The run folder changed: sync it (soon, in the tracking process; never waited for)."""
        self._send("sync\n")

    def close(self, timeout: float = 60.0) -> None:
        """The last sync (the run's end), waited for at most `timeout` seconds."""
        self._send("close\n")
        try:
            self._process.stdin.close()
        except OSError:
            pass
        try:
            code = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = None
        self._relay.join(5)
        if code != 0:
            said = f"did not answer within {timeout:g} s" if code is None else f"ended with code {code}"
            self.reporter.warn(f"the tracking of this run on {self.uri} {said}; `nnlab track {self.run_dir} "
                               f"--to {self.uri}` sends the rest")

    def _send(self, line: str) -> None:
        try:
            self._process.stdin.write(line)
            self._process.stdin.flush()
        except (OSError, ValueError):  # (the tracking process has gone: close says so)
            pass

    def _relay_lines(self) -> None:
        for line in self._process.stdout:
            kind, _, text = line.rstrip("\n").partition(" ")
            (self.reporter.say if kind == "say" else self.reporter.warn)(text)


def serve(run_dir: str, track_json: str) -> None:
    """The tracking process: a sync per batch of lines on its input, the last one at `close` or when
    its input ends (the sweep was killed: what the folder holds is sent, the run stays open). At a
    lower priority than the sweep: the training has the CPU first, the server waits a moment."""
    try:
        os.nice(10)
    except OSError:
        pass
    from nnlab.runs.tracking import sync
    from nnlab.spec.trackschema import TrackSpec

    track = TrackSpec(**json.loads(track_json))
    said, last = None, None
    while True:
        got = os.read(0, 65536)
        ended = not got  # (the input ended: the sweep has gone)
        while not ended and select.select([0], [], [], 0)[0]:  # (lines that came meanwhile: one sync for all)
            more = os.read(0, 65536)
            got, ended = got + more, not more
        closing = ended or b"close" in got
        try:
            last = sync(run_dir, track.uri, track.experiment, track.model and b"close" in got)
            said = None
        except Exception as exc:  # noqa: BLE001 (a tracking server's trouble never fails a sweep)
            trouble = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            if trouble != said:
                _tell("warn", f"could not reach the tracking server at {track.uri} ({trouble}); the sweep goes "
                              f"on, and `nnlab track {run_dir} --to {track.uri}` sends what it missed")
                said = trouble
        if closing:
            if last is not None and last.ended and b"close" in got:
                _tell("say", f"tracked as {last.said(track.uri)}")
            return


def _tell(kind: str, text: str) -> None:
    sys.stdout.write(f"{kind} {' '.join(text.splitlines())}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    serve(*sys.argv[1:3])
