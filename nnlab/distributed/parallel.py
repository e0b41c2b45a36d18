"""Parallel and distributed sweeps on Keras Tuner's own chief/worker engine.

Keras Tuner's distributed mode: a chief serves the oracle over gRPC and workers ask it for trials,
all sharing the project folder (`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`,
`KERASTUNER_ORACLE_PORT`). nnlab keeps that engine and adds what people need around it:

- `Chief` serves the run's oracle with Keras Tuner's `OracleServicer`, and on every trial that ends
  it updates the run's records, trials.csv and summary.json and prints the merged progress. It
  stops handing out trials at the spec's time and failure limits, and never waits for a worker that
  is gone: a local worker that dies is restarted under the same id (Keras Tuner gives it back the
  trial it held), and a worker that stays silent past `worker_timeout` is dropped and its trial
  handed to another worker.
- `run_parallel` (`nnlab run --workers N`, `--gpus`, `--per-gpu`): the chief in this process on
  127.0.0.1 and a free port, and N worker processes (`nnlab worker`), one GPU each when asked.
- `serve_chief` (`nnlab chief`) and `run_worker` (`nnlab worker`): the two halves, for scripted sweeps
  across machines that share a file system.

The chief's port has no authentication: anyone who can reach it can read the search space and post
results. It binds to 127.0.0.1 unless told otherwise.
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

from nnlab.runs import files as results
from nnlab.errors import NnlabError, RunError
from nnlab.progress import Reporter
from nnlab.spec.schema import Spec
from nnlab.spec.loader import spec_hash

POLL_SECONDS = 0.2  # Keras Tuner's own chief polls every 20 s once the search is over
MAX_RESTARTS = 3  # per local worker id, before its trial goes to the other workers


def parse_address(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise NnlabError(f"{option} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8000")
    return host.strip("[]"), int(port)


def check_worker_id(worker_id: str) -> str:
    if not worker_id or "chief" in worker_id or any(c.isspace() for c in worker_id):
        raise NnlabError(f"--id {worker_id!r}: a worker id must be non-empty, without spaces, and must not "
                         "contain 'chief' (Keras Tuner reserves it)")
    return worker_id


def default_worker_id() -> str:
    """Stable across restarts of the same job slot: the host, plus SLURM's task id where there is one."""
    task = os.environ.get("SLURM_ARRAY_TASK_ID") or os.environ.get("SLURM_PROCID")
    return f"{socket.gethostname()}-{task if task is not None else os.getpid()}".replace("chief", "chf")


def parse_gpus(text: str | None) -> list[str]:
    if not text:
        return []
    gpus = [g.strip() for g in text.split(",") if g.strip()]
    if not gpus or not all(g.isdigit() for g in gpus):
        raise NnlabError(f"--gpus {text!r}: expected GPU numbers separated by commas, e.g. --gpus 0,1")
    return gpus


def check_gpus(gpus: list[str]) -> None:
    """A clear error where the asked-for GPUs are not there (before any process starts)."""
    if not gpus:
        return
    from nnlab.engine.backend import import_tensorflow

    found = len(import_tensorflow().config.list_physical_devices("GPU"))
    if not found:
        raise NnlabError(f"--gpus {','.join(gpus)}: TensorFlow sees no GPU on this machine. Install the GPU "
                         "build (`pip install -e '.[gpu]'`) on a machine with NVIDIA GPUs, or use --workers N "
                         "to run workers on the CPU")
    missing = [g for g in gpus if int(g) >= found]
    if missing:
        raise NnlabError(f"--gpus: GPU {', '.join(missing)} does not exist; TensorFlow sees {found} GPU(s), "
                         f"numbered 0 to {found - 1}")


# ------------------------------------------------------------------------------------ the chief


class Chief:
    """Serves a sweep's oracle to workers and keeps the run's records (see the module docstring)."""

    def __init__(self, sweep, host: str, port: int, worker_timeout: float | None = None):
        self.sweep, self.host, self.port = sweep, host, port
        self.worker_timeout = worker_timeout
        self.lock = threading.RLock()  # the servicer's thread and the watching loop both touch the oracle
        self.last_seen: dict[str, float] = {}
        self.stop_reason: str | None = None  # set: no more trials are handed out
        self.stopping = False
        self.tuner = None
        self.server = None
        self.servicer = None

    @property
    def oracle(self):
        return self.tuner.oracle

    def start(self) -> int:
        """Build the tuner (Keras Tuner reloads a resumed run's oracle) and serve it; return the port."""
        import grpc
        from concurrent import futures
        from keras_tuner.src import protos

        self.tuner = self.sweep.make_tuner()
        self.sweep.total = self.sweep.total_trials(self.tuner)
        self.sweep._sync_records(self.tuner)
        self.oracle.verbose = 0  # nnlab prints the progress (Keras Tuner would print every trial's table)
        self.servicer = _servicer_class()(self.oracle, self)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        protos.get_service_grpc().add_OracleServicer_to_server(self.servicer, self.server)
        try:
            port = self.server.add_insecure_port(f"{self.host}:{self.port}")
        except RuntimeError:  # grpc raises on some versions, returns 0 on others
            port = 0
        if not port:
            raise RunError(f"the chief cannot listen on {self.host}:{self.port}: the port is in use, or the host "
                           "is not an address of this machine")
        self.port = port
        self.server.start()
        return port

    # ---- called by the servicer (one request at a time)

    def next_trial_allowed(self) -> str | None:
        """None, or why no new trial may start (time limit, failures in a row, shutting down)."""
        from nnlab.engine.sweep import _StopSearch

        if self.stopping:
            return "stopping"
        if self.stop_reason:
            return self.stop_reason
        try:
            self.sweep.before_trial()
        except _StopSearch as stop:
            self.stop_reason = str(stop)
            self.sweep.reporter.warn(self.stop_reason)
        return self.stop_reason

    def trial_started(self, trial, worker: str) -> None:
        from nnlab.spec.space import active_values

        self.sweep.reporter.trial_begins(self.sweep._number(trial.trial_id), self.sweep.total, trial.trial_id,
                                         active_values(trial.hyperparameters.values, self.sweep.spec), worker)
        record = self.sweep.records.get(trial.trial_id)
        if record is None or record["status"] != "running":
            self.sweep.records[trial.trial_id] = {
                "trial_id": trial.trial_id, "status": "running", "score": None, "metrics": {}, "worker": worker,
                "hyperparameters": active_values(trial.hyperparameters.values, self.sweep.spec)}
            self.sweep.write_results("running")

    def trial_ended(self, trial_id: str) -> None:
        self.sweep.remote_trial_ends(self.oracle.trials[trial_id])

    # ---- the watching loop

    def seen(self, worker: str) -> None:
        self.last_seen[worker] = time.monotonic()

    def seen_trial(self, trial_id: str) -> None:
        for worker, trial in list(self.oracle.ongoing_trials.items()):
            if trial.trial_id == trial_id:
                self.seen(worker)

    def drop_worker(self, worker: str, why: str) -> None:
        """A worker is gone for good: its trial goes back to the queue for the others."""
        with self.lock:
            trial = self.oracle.ongoing_trials.pop(worker, None)
            self.oracle.tuner_ids.discard(worker)
            self.last_seen.pop(worker, None)
            if trial is not None:
                self.oracle._retry_queue.append(trial.trial_id)
                self.oracle.save()
        self.sweep.reporter.warn(f"worker {worker} {why}" + (f"; trial {trial.trial_id} goes to another worker"
                                                              if trial is not None else ""))

    def check_silent_workers(self) -> None:
        if not self.worker_timeout:
            return
        now = time.monotonic()
        for worker in list(self.oracle.ongoing_trials):
            if now - self.last_seen.get(worker, now) > self.worker_timeout:
                self.drop_worker(worker, f"sent nothing for {self.worker_timeout / 60:g} minutes")

    def search_over(self) -> bool:
        """Every trial handed out has ended and every worker was told to stop (Keras Tuner's rule)."""
        with self.lock:
            told_to_stop = self.servicer.stop_triggered or self.stop_reason
            return bool(told_to_stop) and not self.oracle.ongoing_trials and not self.oracle.tuner_ids

    def finish(self, status: str):
        """Stop serving, save the search state, write best.keras and the final results."""
        with self.lock:
            self.stopping = True
            self.oracle.save()
        if self.server is not None:
            self.server.stop(grace=1)
        if status == "completed" and self.stop_reason:
            status = "stopped"
        self.sweep.stop_reason = self.stop_reason
        return self.sweep.finish(self.tuner, status)


def _servicer_class():
    """Keras Tuner's `OracleServicer`, telling the `Chief` about each request it answers."""
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer
    from keras_tuner.src.engine import trial as trial_module

    class Servicer(OracleServicer):
        def __init__(self, oracle, chief: Chief):
            super().__init__(oracle)
            self.chief = chief

        def CreateTrial(self, request, context):
            chief = self.chief
            with chief.lock:
                chief.seen(request.tuner_id)
                ongoing = self.oracle.ongoing_trials.get(request.tuner_id)
                if ongoing is None and chief.next_trial_allowed():
                    # No new trial: tell this worker to stop, as Keras Tuner does when trials run out.
                    self.stop_triggered = True
                    self.oracle.tuner_ids.discard(request.tuner_id)
                    trial = trial_module.Trial(self.oracle.get_space(), trial_id="stop",
                                               status=trial_module.TrialStatus.STOPPED)
                    return protos.get_service().CreateTrialResponse(trial=trial.to_proto())
                response = super().CreateTrial(request, context)
                trial = self.oracle.ongoing_trials.get(request.tuner_id)
                if trial is not None:
                    chief.trial_started(trial, request.tuner_id)
                return response

        def UpdateTrial(self, request, context):
            with self.chief.lock:
                self.chief.seen_trial(request.trial_id)
                return super().UpdateTrial(request, context)

        def EndTrial(self, request, context):
            with self.chief.lock:
                self.chief.seen_trial(request.trial.trial_id)
                response = super().EndTrial(request, context)
                self.chief.trial_ended(request.trial.trial_id)
                return response

        def GetSpace(self, request, context):
            with self.chief.lock:
                return super().GetSpace(request, context)

        def UpdateSpace(self, request, context):
            with self.chief.lock:
                return super().UpdateSpace(request, context)

        def GetTrial(self, request, context):
            with self.chief.lock:
                return super().GetTrial(request, context)

        def GetBestTrials(self, request, context):
            with self.chief.lock:
                return super().GetBestTrials(request, context)

    return Servicer


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

    def __init__(self, command: list[str], ids: list[str], envs: list[dict], reporter: Reporter):
        self.command, self.reporter = command, reporter
        self.workers = [_Worker(i, env) for i, env in zip(ids, envs)]

    def start(self) -> None:
        for worker in self.workers:
            self._launch(worker)

    def _launch(self, worker: _Worker) -> None:
        env = {**worker.env, "NNLAB_PARENT_PID": str(os.getpid())}
        kill_at = os.environ.get("NNLAB_KILL_WORKER_AT")  # fault injection for the tests (see faults.py)
        if kill_at and worker is self.workers[0] and worker.restarts == 0:
            env["NNLAB_KILL_AT"] = kill_at
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
            if code == 2:  # a user's mistake the worker already explained; restarting will not help
                worker.done = True
                chief.drop_worker(worker.worker_id, f"{how} (see its message above)")
            elif worker.restarts < MAX_RESTARTS:
                worker.restarts += 1
                self.reporter.warn(f"worker {worker.worker_id} {how}; restarting it "
                                   f"({worker.restarts} of {MAX_RESTARTS}): its trial is retried")
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


# ------------------------------------------------------------------------------------ entry points


def _serve(chief: Chief, workers: LocalWorkers | None) -> str:
    """Watch until the search is over; the run's final status."""
    from nnlab.engine.sweep import terminate_as_interrupt

    with terminate_as_interrupt():
        try:
            if workers is not None:
                workers.start()
            while not chief.search_over():
                time.sleep(POLL_SECONDS)
                if workers is not None:
                    workers.watch(chief)
                    if workers.all_done():
                        break
                chief.check_silent_workers()
        except KeyboardInterrupt:
            chief.stopping = True
            chief.sweep.reporter.warn("interrupted: stopping the workers; completed trials are saved, and "
                                      "resuming the run continues the search")
            if workers is not None:
                workers.stop()
            return "interrupted"
    if workers is not None:
        workers.stop()
        with chief.lock:
            left = [t.trial_id for t in chief.oracle.ongoing_trials.values()] + list(chief.oracle._retry_queue)
        if left and not chief.stop_reason:
            chief.stop_reason = (f"every worker stopped before trial(s) {', '.join(sorted(set(left)))} ended; "
                                 "resume the run (the same command, without --overwrite) to retry them")
            chief.sweep.reporter.warn(chief.stop_reason)
    return "completed"


def serve_chief(spec: Spec, runs_dir: str | Path, *, host: str = "127.0.0.1", port: int = 0,
                overwrite: bool = False, quiet: bool = False, reporter: Reporter | None = None,
                worker_timeout: float | None = None, workers: dict | None = None):
    """The chief of a sweep: creates (or resumes) the run folder and hands trials to workers until the
    search is over; with `workers` (see `run_parallel`) it also starts and watches local workers."""
    from nnlab.engine.sweep import open_sweep

    reporter = reporter or Reporter(quiet=quiet)
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        os.environ.pop(name, None)  # this process serves the oracle; Keras Tuner must not act as a client here
    sweep = open_sweep(spec, runs_dir, overwrite=overwrite, device="cpu", reporter=reporter, role="chief")
    chief = Chief(sweep, host, port, worker_timeout)
    chief.start()
    done = sum(1 for r in sweep.records.values() if r["status"] in ("completed", "failed"))
    local = None
    if workers:
        local = LocalWorkers(workers["command"] + ["--chief", f"127.0.0.1:{chief.port}"], workers["ids"],
                             workers["envs"], reporter)
        where = f"{len(workers['ids'])} worker processes{workers.get('where', '')}"
    else:
        where = (f"workers: nnlab worker SPEC --chief HOST:{chief.port} (chief listening on "
                 f"{chief.host}:{chief.port})")
    reporter.start(spec.name, sweep.data.summary(), sweep.start_text(where), done, sweep.total,
                   spec.search.max_epochs or spec.train.epochs, sweep.objective)
    sweep.write_results("running")
    try:
        status = _serve(chief, local)
    finally:
        reporter.close()
    return chief.finish(status)


def run_parallel(spec: Spec, runs_dir: str | Path, *, workers: int, gpus: list[str] | None = None,
                 per_gpu: int = 1, device: str = "auto", overwrite: bool = False, quiet: bool = False,
                 spec_file: Path, overrides: list[str], strategy: str | None = None,
                 reporter: Reporter | None = None, tensorboard: bool = False):
    """`nnlab run --workers N [--gpus 0,1 --per-gpu K]`: a chief here and N local worker processes."""
    gpus = gpus or []
    check_gpus(gpus)
    if gpus and not workers:
        workers = len(gpus) * per_gpu
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
    ids, envs = [], []
    for i in range(workers):
        env = dict(base_env)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[i % len(gpus)]
        ids.append(f"worker{i + 1}")
        envs.append(env)
    device_arg = "gpu" if gpus else device
    command += ["--device", device_arg]
    where = f" on GPU(s) {','.join(gpus)} ({per_gpu} per GPU)" if gpus else ""
    return serve_chief(spec, runs_dir, overwrite=overwrite, quiet=quiet, reporter=reporter,
                       workers={"command": command, "ids": ids, "envs": envs, "where": where})


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


def check_worker_run_dir(run_dir: Path, spec: Spec) -> dict:
    """The chief's run folder, for a worker: it must exist and be of this very spec."""
    summary_path = run_dir / results.SUMMARY
    try:
        summary = results.read_json(summary_path)
    except (OSError, ValueError):
        raise RunError(f"{run_dir} has no readable summary.json: start the chief (nnlab chief) first, with the "
                       "same spec, --runs-dir and --name; the workers must see its run folder") from None
    if summary.get("spec_hash") != spec_hash(spec):
        raise RunError(f"{run_dir} holds a sweep of a different spec than this worker's; give the worker the "
                       "chief's spec file and the same --set overrides")
    return summary


def run_worker(spec: Spec, runs_dir: str | Path, *, chief: str, worker_id: str, device: str = "auto",
               quiet: bool = False, strategy: str | None = None, wait_seconds: float = 600.0,
               reporter: Reporter | None = None, tensorboard: bool = False) -> int:
    """`nnlab worker`: train the trials the chief hands out until it says the search is over."""
    import grpc

    from nnlab.engine.sweep import open_sweep, terminate_as_interrupt

    host, port = parse_address(chief, "--chief")
    check_worker_id(worker_id)
    reporter = reporter or Reporter(quiet=quiet)
    _exit_with_parent()
    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=wait_seconds)
    except grpc.FutureTimeoutError:
        raise RunError(f"no chief answered at {host}:{port} within {wait_seconds:g} s; start it with "
                       "`nnlab chief SPEC --bind HOST:PORT`") from None
    finally:
        channel.close()
    run_dir = Path(runs_dir) / spec.name
    previous = check_worker_run_dir(run_dir, spec)
    os.environ.update(KERASTUNER_TUNER_ID=worker_id, KERASTUNER_ORACLE_IP=host, KERASTUNER_ORACLE_PORT=str(port))
    sweep = open_sweep(spec, runs_dir, overwrite=False, device=device, reporter=reporter, strategy=strategy,
                       role="worker", worker_id=worker_id, previous=previous)
    sweep.tensorboard = tensorboard
    with terminate_as_interrupt():
        return sweep.work()
