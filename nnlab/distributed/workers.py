"""Workers of a parallel sweep: `nnlab worker` (`run_worker`, `WorkerSweep`) and the local worker
processes of `nnlab run --workers N --gpus 0,1 --per-gpu K` (`run_parallel`, `LocalWorkers`).

A worker is a Keras Tuner tuner with `KERASTUNER_TUNER_ID/ORACLE_IP/ORACLE_PORT` set: it asks the
chief (see `chief`) for trials and trains them with the same `Trainer` as a one-process sweep. Local
workers are started, echoed, restarted when they die (Keras Tuner gives a restarted worker back the
trial it held) and stopped together; one that keeps dying, or exits with a user's mistake, is dropped
and its trial goes to the others.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nnlab.distributed.chief import parse_address, serve_chief
from nnlab.distributed.gpus import inherited_mask, place_workers, visible_gpu_count, worker_env
from nnlab.distributed.link import (
    CHIEF_TIMEOUT,
    RetryingStub,
    chief_channel,
    chief_unreachable,
    exit_when_chief_gone,
    leave_without_chief,
)
from nnlab.engine import kerastuner
from nnlab.engine.backend import clear_session, freeze_heap, import_keras, import_tensorflow
from nnlab.engine.failures import first_useful_line
from nnlab.engine.pack.size import pack_size
from nnlab.engine.placement import Placement, RunOptions, load_and_place
from nnlab.engine.search import Search
from nnlab.engine.sweep import terminate_as_interrupt
from nnlab.errors import NnlabError, RunError
from nnlab.progress import Reporter
from nnlab.runs import files
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import Summary
from nnlab.runs.trialprogress import TrialProgress
from nnlab.spec.loader import spec_hash
from nnlab.spec.schema import Spec

if TYPE_CHECKING:
    from nnlab.distributed.chief import Chief

MAX_RESTARTS = 3  # per local worker id, before its trial goes to the other workers
EXIT_RESTART = 75  # a worker whose GPU a CUDA error made unusable: restart it clean (not counted as a crash)


def check_worker_id(worker_id: str) -> str:
    if not worker_id or "chief" in worker_id or any(c.isspace() for c in worker_id):
        raise NnlabError(f"--id {worker_id!r}: a worker id must be non-empty, without spaces, and must not "
                         "contain 'chief' (Keras Tuner reserves it)")
    return worker_id


def default_worker_id() -> str:
    """Stable across restarts of the same job slot: the host, plus SLURM's task id where there is one."""
    task = os.environ.get("SLURM_ARRAY_TASK_ID") or os.environ.get("SLURM_PROCID")
    return f"{socket.gethostname()}-{task if task is not None else os.getpid()}".replace("chief", "chf")


def check_gpus(gpus: list[str]) -> None:
    """A clear error where the asked-for GPUs are not there (before any process starts)."""
    if not gpus:
        return
    found = len(import_tensorflow().config.list_physical_devices("GPU"))
    if not found:
        raise NnlabError(f"--gpus {','.join(gpus)}: TensorFlow sees no GPU on this machine. Install the GPU "
                         "build (`pip install -e '.[gpu]'`) on a machine with NVIDIA GPUs, or use --workers N "
                         "to run workers on the CPU")
    missing = [g for g in gpus if g.isdigit() and int(g) >= found]
    if missing:
        raise NnlabError(f"--gpus: GPU {', '.join(missing)} does not exist; TensorFlow sees {found} GPU(s), "
                         f"numbered 0 to {found - 1}")


# ------------------------------------------------------------------------------------ local workers


@dataclass
class _Worker:
    worker_id: str
    env: dict
    process: subprocess.Popen | None = None
    restarts: int = 0
    done: bool = False


class LocalWorkers:
    """Worker processes on this machine: started, echoed, restarted when they die, stopped together."""

    def __init__(self, command: list[str], ids: list[str], envs: list[dict], reporter: Reporter, where: str = ""):
        """`command`: `nnlab worker …` without --chief and --id; `where`: the GPUs, for people."""
        self.command, self.reporter, self.where = command, reporter, where
        self.workers = [_Worker(i, env) for i, env in zip(ids, envs)]

    def describe(self) -> str:
        return f"{len(self.workers)} worker processes{self.where}"

    def start(self, chief_port: int) -> None:
        self.command = self.command + ["--chief", f"127.0.0.1:{chief_port}"]
        for worker in self.workers:
            self._launch(worker)

    def _launch(self, worker: _Worker) -> None:
        env = {**worker.env, "NNLAB_PARENT_PID": str(os.getpid())}
        kill_at = os.environ.get("NNLAB_KILL_WORKER_AT", "")  # fault injection for the tests (see faults.py)
        always = kill_at.endswith(":always")
        if kill_at and worker is self.workers[0] and (worker.restarts == 0 or always):
            env["NNLAB_KILL_AT"] = kill_at.removesuffix(":always")
        worker.process = subprocess.Popen(
            self.command + ["--id", worker.worker_id], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=self._echo, args=(worker.worker_id, worker.process.stdout), daemon=True).start()

    def _echo(self, worker_id: str, stream) -> None:
        for line in stream:  # the workers run --quiet: what they print is a warning or an error
            line = line.rstrip()
            kind, _, text = line.partition(": ")
            if kind == "error":
                self.reporter.error(f"[{worker_id}] {text}")
            elif line:  # (a worker's own "warning: " prefix is not repeated)
                self.reporter.warn(f"[{worker_id}] {text if kind == 'warning' else line}")

    def watch(self, chief: Chief) -> None:
        """Restart a worker that died while the search goes on; drop one that keeps dying."""
        for worker in self.workers:
            if worker.done or worker.process is None:
                continue
            code = worker.process.poll()
            if code is None:
                continue
            if code == 0 or chief.stopping:
                worker.done = True
                continue
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            trials = "its trial is retried"
            if code not in (EXIT_RESTART, 2):
                trials = chief.worker_crashed(worker.worker_id, how)  # (a trial that keeps crashing it is failed)
            if code == EXIT_RESTART:  # (it said why; its trial is recorded as failed)
                self._launch(worker)
            elif code == 2:  # a user's mistake the worker already explained; restarting will not help
                worker.done = True
                chief.drop_worker(worker.worker_id, f"{how} (see its message above)")
            elif worker.restarts < MAX_RESTARTS:
                worker.restarts += 1
                self.reporter.warn(f"worker {worker.worker_id} {how}; restarting it "
                                   f"({worker.restarts} of {MAX_RESTARTS}): {trials}")
                self._launch(worker)
            else:
                worker.done = True
                chief.drop_worker(worker.worker_id, f"{how} {MAX_RESTARTS + 1} times; not restarted")

    def all_done(self) -> bool:
        return all(w.done for w in self.workers)

    def stop(self, wait: float = 15.0) -> None:
        """SIGTERM (a worker stops like Ctrl-C), then SIGKILL for any still running after `wait` s."""
        alive = [w.process for w in self.workers if w.process is not None and w.process.poll() is None]
        for proc in alive:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        for proc in alive:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()


def run_parallel(spec: Spec, runs_dir: str | Path, *, workers: int, gpus: list[str] | None = None,
                 per_gpu: int = 1, device: str = "auto", overwrite: bool = False, quiet: bool = False,
                 spec_file: Path, overrides: list[str], strategy: str | None = None,
                 reporter: Reporter | None = None, tensorboard: bool = False, track=None):
    """`nnlab run --workers N [--gpus 0,1 --per-gpu K]`: a chief here and N local worker processes."""
    gpus = gpus or []
    check_gpus(gpus)
    mask = inherited_mask()
    placement = place_workers(workers, gpus, per_gpu, 0 if gpus or device == "cpu" else visible_gpu_count(),
                              mask, device)
    workers = len(placement.devices)
    if workers < 1:
        raise NnlabError("--workers must be 1 or more")
    command = [sys.executable, "-m", "nnlab", "worker", str(spec_file), "--runs-dir", str(runs_dir),
               "--name", spec.name, "--quiet"]
    for override in overrides:
        command += ["--set", override]
    if strategy:
        command += ["--strategy", strategy]
    if tensorboard:
        command += ["--tensorboard"]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_") and k != "NNLAB_KILL_AT"}
    ids = [f"worker{i + 1}" for i in range(workers)]
    envs = [worker_env(base_env, d, placement.per_device(d), workers) for d in placement.devices]
    on_gpus = any(d is not None for d in placement.devices)
    command += ["--device", "gpu" if on_gpus else device]
    reporter = reporter or Reporter(quiet=quiet)
    if placement.warning:
        reporter.warn(placement.warning)
    local = LocalWorkers(command, ids, envs, reporter, placement.where)
    return serve_chief(spec, runs_dir, overwrite=overwrite, quiet=quiet, reporter=reporter, workers=local,
                       track=track)


class WorkerSweep(Search):
    """A worker's side of a sweep: it trains the trials the chief hands out, and before Keras Tuner
    tells the chief a trial ended, writes what only it saw of the trial (time, epochs, the best epoch's
    metrics and per-epoch history, a failure's reason) to the trial's `nnlab_trial.json`."""

    def __init__(self, spec: Spec, data, folder: RunFolder, reporter: Reporter, placement: Placement, worker_id: str,
                 *, tensorboard: bool = False, pack: int = 1):
        super().__init__(spec, data, folder, reporter, placement, tensorboard=tensorboard, pack=pack)
        self.worker_id = worker_id
        self.chief_timeout = CHIEF_TIMEOUT  # (what run_worker was given)

    def trial_finishing(self, trial, reason: str | None) -> None:
        self.time_trial(trial, reason)
        record = self.record(trial, reason)  # (status and score: the chief's to say)
        reason = reason or (first_useful_line(trial.message) if trial.status in ("FAILED", "INVALID") else None)
        policy = import_keras().mixed_precision.global_policy().name  # (the chief builds best.keras in it)
        self.write_progress(trial.trial_id, TrialProgress(
            reason=reason, worker=self.worker_id, seconds=record.seconds, epochs=record.epochs,
            best_epoch=record.best_epoch, metrics=record.metrics, device=self.placement.name, policy=policy))

    def gpu_poisoned(self, reason: str) -> None:
        """Exit with EXIT_RESTART once the trial is recorded: `nnlab run --workers` starts a clean process
        (a worker under a job script exits 75, EX_TEMPFAIL, for the script to start it again)."""
        self.reporter.warn(f"worker {self.worker_id}: {reason}; exiting to restart clean")
        sys.stdout.flush()
        raise SystemExit(EXIT_RESTART)

    def work(self) -> int:
        """Train the trials the chief hands out until it says the search is over. Returns the exit code
        (130 when interrupted: the chief hands the trial out again)."""
        tuner = self.build_tuner()
        host, port = os.environ["KERASTUNER_ORACLE_IP"], int(os.environ["KERASTUNER_ORACLE_PORT"])
        kerastuner.use_stub(tuner, lambda stub_class: RetryingStub(stub_class(chief_channel(host, port)),
                                                                   self.chief_timeout))
        self.reporter.say(f"worker {self.worker_id}: {self.data.summary()}; training on {self.placement.name}")
        freeze_heap()
        try:
            self.run_search(tuner)
        except KeyboardInterrupt:
            self.reporter.warn(f"worker {self.worker_id} interrupted; the chief will hand its trial out again")
            return 130
        except Exception as exc:
            if not chief_unreachable(exc):
                raise
            return leave_without_chief(self.folder.path, self.worker_id, self.chief_timeout, self.reporter)
        finally:
            clear_session()
        self.reporter.say(f"worker {self.worker_id}: the chief says the search is over")
        return 0


def _exit_with_parent() -> None:
    """A local worker (started by `nnlab run --workers`) ends when the process that started it is gone,
    as a killed worker would: its trial stays in the chief's saved state and is retried on resume."""
    parent = os.environ.get("NNLAB_PARENT_PID")
    if not parent or not parent.isdigit():
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def check_worker_run_dir(run_dir: Path, spec: Spec) -> Summary:
    """The chief's run folder, for a worker: it must exist and be of this very spec."""
    try:
        summary = files.read_summary(run_dir / files.SUMMARY)
    except (OSError, ValueError, TypeError):
        raise RunError(f"{run_dir} has no readable summary.json: start the chief (nnlab chief) first, with the "
                       "same spec, --runs-dir and --name; the workers must see its run folder") from None
    if summary.spec_hash != spec_hash(spec):
        raise RunError(f"{run_dir} holds a sweep of a different spec than this worker's; give the worker the "
                       "chief's spec file and the same --set overrides")
    return summary


def run_worker(spec: Spec, runs_dir: str | Path, *, chief: str, worker_id: str, device: str = "auto",
               quiet: bool = False, strategy: str | None = None, wait_seconds: float = 600.0,
               reporter: Reporter | None = None, tensorboard: bool = False,
               chief_timeout: float = CHIEF_TIMEOUT) -> int:
    """`nnlab worker`: train the trials the chief hands out until it says the search is over."""
    import grpc

    host, port = parse_address(chief, "--chief")
    check_worker_id(worker_id)
    reporter = reporter or Reporter(quiet=quiet)
    _exit_with_parent()
    channel = chief_channel(host, port)  # (a chief started after the worker is found within 2 s)
    try:
        grpc.channel_ready_future(channel).result(timeout=wait_seconds)
    except grpc.FutureTimeoutError:
        raise RunError(f"no chief answered at {host}:{port} within {wait_seconds:g} s; start it with "
                       "`nnlab chief SPEC --bind HOST:PORT`") from None
    finally:
        channel.close()
    folder = RunFolder(Path(runs_dir) / spec.name)
    check_worker_run_dir(folder.path, spec)
    os.environ.update(KERASTUNER_TUNER_ID=worker_id, KERASTUNER_ORACLE_IP=host, KERASTUNER_ORACLE_PORT=str(port))
    kerastuner.set_client_timeout(chief_timeout)
    exit_when_chief_gone(host, port, folder.path, worker_id, chief_timeout, reporter)
    data, placement = load_and_place(spec, RunOptions(device, strategy), reporter, runs_dir=Path(runs_dir))
    pack = pack_size(spec, data, placement, tensorboard)
    if pack.note:
        reporter.note(f"worker {worker_id}: {pack.note}")
    sweep = WorkerSweep(spec, data, folder, reporter, placement, worker_id, tensorboard=tensorboard, pack=pack.size)
    sweep.chief_timeout = chief_timeout
    with terminate_as_interrupt():
        return sweep.work()
