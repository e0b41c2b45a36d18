"""The chief of a parallel sweep, on Keras Tuner's own chief/worker engine.

The chief serves the run's oracle over gRPC with Keras Tuner's `OracleServicer` (a subclass that tells
the `Chief` about each request), and keeps the run's records: on every trial that ends it updates
trials.csv and summary.json and prints the merged progress (`ChiefSweep`). It stops handing out
trials at the spec's time and failure limits, and never waits for a worker that is gone: one that
stays silent past `worker_timeout` is dropped and its trial handed to another worker. `serve_chief`
is `nnlab chief`; with local workers (`workers.run_parallel`) it is `nnlab run --workers N`.

The chief's port has no authentication: anyone who can reach it can read the search space and post
results. It binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from nnlab.distributed.restart import REJOIN_SECONDS, Orphans
from nnlab.distributed.servicer import servicer_class
from nnlab.engine import kerastuner
from nnlab.engine.backend import set_global_policy
from nnlab.engine.placement import RunOptions, load_and_place
from nnlab.engine.search import StopSearch, start_text
from nnlab.engine.sweep import RecordingSweep, terminate_as_interrupt
from nnlab.errors import NnlabError, RunError
from nnlab.progress import Reporter
from nnlab.runs.folder import RunFolder
from nnlab.runs.lock import RunLock
from nnlab.runs.opening import check_run_dir
from nnlab.runs.records import TrialRecord, trial_number
from nnlab.runs.trialprogress import TrialProgress
from nnlab.spec.schema import Spec
from nnlab.spec.space import active_values

POLL_SECONDS = 0.2  # Keras Tuner's own chief polls every 20 s once the search is over


def parse_address(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise NnlabError(f"{option} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8000")
    return host.strip("[]"), int(port)


def bind_warning(host: str, any_host: bool) -> str | None:
    """The chief serves its trials without authentication: a wildcard address (every interface, the
    public ones too) is refused unless `any_host` says it is meant; any address other than this machine's
    own gets a warning (None: nothing to say)."""
    import ipaddress

    if host in ("localhost",) or host.startswith("127.") or host == "::1":
        return None
    if host in ("0.0.0.0", "::", "*", ""):
        if not any_host:
            raise NnlabError(f"--bind {host}: listening on every network interface, public ones too, and the chief "
                             "has no authentication: anyone who can reach this machine could take trials and post "
                             "results. Bind to the address of the private network the workers share (e.g. "
                             "--bind 10.0.0.11:8000), or add --any-host if only machines you trust can reach this one")
        return (f"--bind {host} --any-host: the chief listens on every network interface without authentication; "
                "keep its port closed to everything but the workers (a firewall)")
    try:
        public = ipaddress.ip_address(host).is_global
    except ValueError:
        public = None  # a host name
    if public:
        return (f"--bind {host}: a public address, and the chief has no authentication: anyone on the internet who "
                "reaches this port could take trials and post results; tunnel it (ssh -L) or use a private address")
    return f"--bind {host}: the chief has no authentication; keep its port inside the private network of the workers"


CRASHES_PER_TRIAL = 2  # a trial that takes its worker down this many times is failed, not handed out again


class Chief:
    """Serves a sweep's oracle to workers and keeps the run's records (see the module docstring)."""

    def __init__(self, sweep, host: str, port: int, worker_timeout: float | None = None):
        self.sweep, self.host, self.port = sweep, host, port
        self.worker_timeout = worker_timeout
        self.lock = threading.RLock()  # the servicer's thread and the watching loop both touch the oracle
        self.last_seen: dict[str, float] = {}
        self.crashes: Counter = Counter()  # trial id → how many times it took its worker down, trained alone
        self.suspects: set[str] = set()  # trials of a pack that crashed its worker: each trained alone since
        self.stop_reason: str | None = None  # set: no more trials are handed out
        self.stop_planned = False  # the end the spec asked for (a time budget), not a limit
        self.stopping = False
        self.tuner = None
        self.orphans = Orphans({})
        self.serve_until = 0.0  # (a resumed chief: see `start`)
        self.server = None
        self.servicer = None

    @property
    def oracle(self):
        return self.tuner.oracle

    def start(self) -> int:
        """Build the tuner (Keras Tuner reloads a resumed run's oracle) and serve it; return the port."""
        from concurrent import futures

        import grpc

        self.orphans = Orphans.saved(self.sweep.folder.tuner_dir)  # (a restart: its predecessor's running trials)
        self.tuner = self.sweep.make_tuner()
        if self.oracle.trials:  # resumed: its predecessor's workers may still be on their way back to it
            self.serve_until = time.monotonic() + REJOIN_SECONDS
        self.oracle.verbose = 0  # nnlab prints the progress (Keras Tuner would print every trial's table)
        self.servicer = servicer_class()(self.oracle, self)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        kerastuner.add_servicer(self.servicer, self.server)
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
        if self.stopping:
            return "stopping"
        if self.stop_reason:
            return self.stop_reason
        try:
            self.sweep.before_trial()
        except StopSearch as stop:
            self.stop_reason, self.stop_planned = str(stop), stop.planned
            (self.sweep.reporter.say if stop.planned else self.sweep.reporter.warn)(self.stop_reason)
        return self.stop_reason

    def trial_started(self, trial, worker: str) -> None:
        self.sweep.remote_trial_begins(trial, worker)

    def trial_ended(self, trial_id: str) -> None:
        self.sweep.remote_trial_ends(self.oracle.trials[trial_id])

    def ended_before(self, trial_id: str) -> bool:
        """A second report of a trial that had already ended (handed out twice around a chief's restart):
        the first result is kept, and the worker's slot freed."""
        trial = self.oracle.trials.get(trial_id)
        if trial is None or trial.status not in ("COMPLETED", "FAILED"):
            return False
        for slot in [s for s, t in self.oracle.ongoing_trials.items() if t.trial_id == trial_id]:
            self.oracle.ongoing_trials.pop(slot)
        self.sweep.reporter.warn(f"trial {trial_id} was reported again after it had ended; its first result is kept")
        return True

    # ---- the watching loop

    def seen(self, worker: str) -> None:
        self.last_seen[kerastuner.owner_of(worker)] = time.monotonic()

    def seen_trial(self, trial_id: str) -> None:
        for slot, trial in list(self.oracle.ongoing_trials.items()):
            if trial.trial_id == trial_id:
                self.seen(slot)

    def slots_of(self, worker: str) -> list[str]:
        """The ids under which a worker holds trials: its own, and with search.pack its slots' (`worker#2`, …)."""
        return [slot for slot in self.oracle.ongoing_trials if kerastuner.owner_of(slot) == worker]

    def worker_crashed(self, worker: str, how: str) -> str:
        """A worker died while it held a trial. The second time the same trial, trained alone, takes its
        worker down, the trial is ended as failed, with that reason, instead of being handed out again (a
        trial that crashes every process it runs in would otherwise take down every worker in turn). Which
        trial of a pack crashed it is not known: its trials are retried each alone (`suspects`), and only
        the one that crashes alone is counted. Returns what happens to the trials, in words."""
        with self.lock:
            slots = self.slots_of(worker)
            if len(slots) > 1:
                trials = [self.oracle.ongoing_trials.pop(slot).trial_id for slot in slots]
                self.suspects.update(trials)
                kerastuner.retry_queue(self.oracle).extend(trials)
                self.oracle.save()
                return (f"the {len(trials)} trials of its pack ({', '.join(trials)}) are retried, each alone, to find "
                        "the one that crashed it")
            for slot in slots:
                trial = self.oracle.ongoing_trials[slot]
                self.crashes[trial.trial_id] += 1
                if self.crashes[trial.trial_id] < CRASHES_PER_TRIAL:
                    return f"its trial {trial.trial_id} is retried"
                reason = f"the trial crashed its worker {CRASHES_PER_TRIAL} times (last: {worker} {how})"
                self.sweep.write_progress(trial.trial_id, TrialProgress(reason=reason, worker=worker))
                trial.status, trial.message = "FAILED", reason
                self.oracle.end_trial(trial)
                self.trial_ended(trial.trial_id)
                return f"its trial {trial.trial_id} is failed ({reason})"
            return "it held no trial"

    def hold_suspects(self, slot: str) -> list[str] | None:
        """For a request of a pack's later slot (`worker#2`, …): None, no trial now (the worker's first slot
        trains a suspect, alone); else the suspects taken out of the queue for this request, to put back."""
        owner = kerastuner.owner_of(slot)
        if slot == owner or not self.suspects:
            return []
        first = self.oracle.ongoing_trials.get(owner)
        if first is not None and first.trial_id in self.suspects:
            return None
        queue = kerastuner.retry_queue(self.oracle)
        back = [t for t in queue if t in self.suspects]
        queue[:] = [t for t in queue if t not in self.suspects]
        return back

    def drop_worker(self, worker: str, why: str) -> None:
        """A worker is gone for good: its trial goes back to the queue for the others."""
        with self.lock:
            trials = [self.oracle.ongoing_trials.pop(slot) for slot in self.slots_of(worker)]
            ids = self.oracle.tuner_ids
            ids.difference_update([t for t in ids if kerastuner.owner_of(t) == worker])
            self.last_seen.pop(worker, None)
            for trial in trials:
                kerastuner.retry_queue(self.oracle).append(trial.trial_id)
            if trials:
                self.oracle.save()
        handed = ""
        if trials:
            shown = ", ".join(t.trial_id for t in trials)
            handed = f"; trials {shown} go to other workers" if len(trials) > 1 else \
                f"; trial {shown} goes to another worker"
        self.sweep.reporter.warn(f"worker {worker} {why}{handed}")

    def check_silent_workers(self) -> None:
        if not self.worker_timeout:
            return
        now = time.monotonic()
        for worker in {kerastuner.owner_of(slot) for slot in self.oracle.ongoing_trials}:
            if now - self.last_seen.get(worker, now) > self.worker_timeout:
                minutes = self.worker_timeout / 60
                self.drop_worker(worker, f"sent nothing for {minutes:g} minute{'' if minutes == 1 else 's'}")

    def search_over(self) -> bool:
        """Every trial handed out has ended and every worker was told to stop (Keras Tuner's rule)."""
        with self.lock:
            told_to_stop = self.servicer.stop_triggered or self.stop_reason
            done = bool(told_to_stop) and not self.oracle.ongoing_trials and not self.oracle.tuner_ids
            return done and time.monotonic() >= self.serve_until

    def finish(self, status: str):
        """Save the search state, write best.keras and the final results, then stop serving (until then
        a worker that asks is told the search is over)."""
        with self.lock:
            self.stopping = True
            self.oracle.save()
        if status == "completed" and self.stop_reason and not self.stop_planned:
            status = "stopped"
        try:
            return self.sweep.finish(self.tuner, status, self.stop_reason)
        finally:
            if self.server is not None:
                self.server.stop(grace=1)


class ChiefSweep(RecordingSweep):
    """The chief's side of a sweep: it keeps the run's records and files while workers train. Each
    trial's end comes from Keras Tuner's oracle; what only the worker saw of it (time, epochs, the
    per-epoch history, a failure's reason) from the worker's `nnlab_trial.json`."""

    @classmethod
    def open(cls, spec: Spec, runs_dir: str | Path, *, overwrite: bool, reporter: Reporter,
             lock: RunLock) -> ChiefSweep:
        folder = RunFolder(Path(runs_dir) / spec.name)
        lock.check()
        # The chief trains nothing (but the refit): its data sizes the models it rebuilds for best.keras.
        # It decodes an image folder once, for the workers too, and keeps only the memory-mapped copy, of
        # which it reads no page unless it refits. Its notes are the workers' to print.
        data, placement = load_and_place(spec, RunOptions("cpu"), reporter, notes=False, runs_dir=Path(runs_dir))
        lock.acquire("nnlab chief")
        previous = check_run_dir(folder.path, spec, overwrite, reporter.warn)
        sweep = cls(spec, data, folder, reporter, placement, previous)
        sweep.prepare_folder()
        return sweep

    def remote_trial_begins(self, trial, worker: str) -> None:
        self.reporter.trial_begins(trial_number(trial.trial_id), self.log.total, trial.trial_id,
                                   active_values(trial.hyperparameters.values, self.spec), worker)
        record = self.log.records.get(trial.trial_id)
        if record is None or record.status != "running":
            self.log.put(TrialRecord(trial.trial_id, "running", worker=worker,
                                     hyperparameters=active_values(trial.hyperparameters.values, self.spec)))
            self.log.write("running")

    def adopt_workers_device(self, progress: TrialProgress) -> None:
        """The workers' device and dtype policy, as a worker reported them with a trial: the summary
        records where the trials trained (not the chief's CPU), and the models the chief builds for
        best.keras (the refit, the ensemble, the best trial's rebuild) use the policy the workers
        trained in (mixed_float16 on GPUs, not the chief's own mixed_bfloat16 on its CPU)."""
        if progress.device and self.log.base.device != progress.device:
            self.log.base = replace(self.log.base, device=progress.device)
        if progress.policy:
            set_global_policy(progress.policy)

    def remote_trial_ends(self, trial) -> TrialRecord:
        """Once Keras Tuner's oracle has ended a worker's trial: its record, the files, the progress."""
        progress = self.folder.trial_progress(trial.trial_id) or TrialProgress()
        self.adopt_workers_device(progress)
        record = self.record(trial, progress.reason, seen_here=False)  # (with what its progress file holds)
        self.log.put(record)
        self.prune_checkpoints(final=False)
        self.log.write("running")
        self.reporter.trial_ends(record.number, self.log.total, record, self.objective, self.log.best())
        return record


def _serve(chief: Chief, workers=None) -> str:
    """Watch until the search is over (and `workers`, local `LocalWorkers`, while they run); the run's
    final status."""
    with terminate_as_interrupt():
        try:
            if workers is not None:
                workers.start(chief.port)
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
            left = [t.trial_id for t in chief.oracle.ongoing_trials.values()]
            left += list(kerastuner.retry_queue(chief.oracle))
        if left and not chief.stop_reason:
            chief.stop_reason = (f"every worker stopped before trial(s) {', '.join(sorted(set(left)))} ended; "
                                 "resume the run (the same command, without --overwrite) to retry them")
            chief.sweep.reporter.warn(chief.stop_reason)
    return "completed"


def serve_chief(spec: Spec, runs_dir: str | Path, *, host: str = "127.0.0.1", port: int = 0,
                overwrite: bool = False, quiet: bool = False, reporter: Reporter | None = None,
                worker_timeout: float | None = None, workers=None, track=None):
    """The chief of a sweep: creates (or resumes) the run folder and hands trials to workers until the
    search is over; with `workers` (local `LocalWorkers`, see `run_parallel`) it also starts and watches
    them; `track`: as `engine.sweep.run`'s (the chief keeps the records, so it keeps the server up to date)."""
    reporter = reporter or Reporter(quiet=quiet)
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        os.environ.pop(name, None)  # this process serves the oracle; Keras Tuner must not act as a client here
    with RunLock(Path(runs_dir) / spec.name) as lock:  # (its workers share it)
        sweep = ChiefSweep.open(spec, runs_dir, overwrite=overwrite, reporter=reporter, lock=lock)
        sweep.start_tracking(track)
        return _serve_run(sweep, Chief(sweep, host, port, worker_timeout), reporter, workers)


def _serve_run(sweep: ChiefSweep, chief: Chief, reporter: Reporter, workers):
    """Serve until the search is over; the run's result."""
    spec = sweep.spec
    chief.start()
    if workers is not None:
        where = workers.describe()
    else:
        where = (f"workers: nnlab worker SPEC --chief HOST:{chief.port} (chief listening on "
                 f"{chief.host}:{chief.port})")
    reporter.start(spec.name, sweep.data.summary(), start_text(sweep, sweep.log.total, where), sweep.log.finished(),
                   sweep.log.total, spec.search.max_epochs or spec.train.epochs, sweep.objective,
                   notes=sweep.header_notes(), deadline=sweep.limits.deadline)
    sweep.log.write("running")
    try:
        status = _serve(chief, workers)
    finally:
        reporter.close()
    return chief.finish(status)
