"""A worker's line to the chief: a channel that tries again every 2 s while the chief is away, calls
that outlast a connection lost mid-call, a watch that ends the worker when the chief stays away, and
what the worker says then (the search over, or the chief gone).

A chief restarted on the same address within `nnlab worker --chief-timeout` seconds finds its workers
again: a call in flight when the old one was killed (often the report of a trial's end) is sent again,
and the new chief keeps the first report of a trial that was reported twice.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from nnlab.progress import Reporter
from nnlab.runs import files

EXIT_CHIEF_GONE = 3  # the chief stopped answering for --chief-timeout seconds: the worker says so and exits
CHIEF_TIMEOUT = 60.0  # seconds (nnlab worker --chief-timeout); Keras Tuner's own bound is an hour

# gRPC waits up to 2 minutes between tries to reach a server that went away (its backoff grows 1.6 times
# a try): a worker waiting --chief-timeout seconds for a restarted chief would often not try in time.
RECONNECT_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 500), ("grpc.min_reconnect_backoff_ms", 500),
                     ("grpc.max_reconnect_backoff_ms", 2000)]
RETRY_PAUSE = 1.0  # seconds between tries of a call whose connection was lost


def chief_channel(host: str, port: int):
    """A gRPC channel to the chief that tries to connect again every 2 s at most (`RECONNECT_OPTIONS`)."""
    import grpc

    return grpc.insecure_channel(f"{host}:{port}", options=RECONNECT_OPTIONS)


class RetryingStub:
    """Keras Tuner's stub to the chief, each call sent again when the connection was lost while it was
    under way (gRPC's wait_for_ready covers a chief not there yet, not one that dies mid-call), for up
    to `seconds` after the first failure."""

    def __init__(self, stub, seconds: float):
        self.stub, self.seconds = stub, seconds

    def __getattr__(self, name: str):
        method = getattr(self.stub, name)

        def call(*args, **kwargs):
            first = None
            while True:
                try:
                    return method(*args, **kwargs)
                except Exception as exc:
                    first = first or time.monotonic()
                    if not _connection_lost(exc) or time.monotonic() - first > self.seconds:
                        raise
                    time.sleep(RETRY_PAUSE)

        return call


def _connection_lost(exc: BaseException) -> bool:
    import grpc

    return isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.UNAVAILABLE


def chief_unreachable(exc: BaseException) -> bool:
    """A gRPC call to the chief that timed out or found no chief (here or as what caused `exc`)."""
    import grpc

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, grpc.RpcError) and exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED,
                                                             grpc.StatusCode.UNAVAILABLE):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def chief_gone(worker_id: str, seconds: float) -> str:
    return (f"worker {worker_id}: the chief stopped answering for {seconds:g} s; exiting (code {EXIT_CHIEF_GONE}). "
            "Its trial is not lost: a chief started again on the same spec resumes the run and hands it out again; "
            "start this worker again then (--chief-timeout sets how long a worker waits)")


def leave_without_chief(run_dir: Path, worker_id: str, seconds: float, reporter: Reporter) -> int:
    """The chief has not answered for `seconds`. Where it ended the search meanwhile (its summary.json
    says completed or stopped: a worker that came back late to a restarted chief), say so and return 0;
    else say it is gone and return EXIT_CHIEF_GONE."""
    try:
        status = files.read_summary(run_dir / files.SUMMARY).status
    except (OSError, ValueError, TypeError):
        status = "unknown"
    if status in ("completed", "stopped"):
        reporter.say(f"worker {worker_id}: the chief has ended the search ({run_dir / files.SUMMARY} says {status})")
        return 0
    reporter.warn(chief_gone(worker_id, seconds))
    return EXIT_CHIEF_GONE


def exit_when_chief_gone(host: str, port: int, run_dir: Path, worker_id: str, seconds: float,
                         reporter: Reporter) -> None:
    """Watch the chief's address while the worker trains: when it has not answered for `seconds` (killed,
    its machine gone), say so and exit (`leave_without_chief`), mid-epoch if need be, instead of waiting
    for the next call to the chief. A chief back within `seconds` (restarted on the same port) is kept."""
    import grpc

    channel = chief_channel(host, port)

    def watch() -> None:
        while True:
            time.sleep(min(5.0, seconds / 4))
            try:
                grpc.channel_ready_future(channel).result(timeout=seconds)
            except grpc.FutureTimeoutError:
                code = leave_without_chief(run_dir, worker_id, seconds, reporter)
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)

    threading.Thread(target=watch, daemon=True).start()
