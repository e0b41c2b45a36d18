"""A chief started again while the workers of the one before it still train (`Orphans`).

Keras Tuner's oracle, reloaded, queues for retry every trial its predecessor had handed out. A worker
that outlived the killed chief (it waits `nnlab worker --chief-timeout` seconds for one) is often still
training such a trial, and reports it to the new chief. Handed out again meanwhile, the trial would be
trained twice. So the new chief holds those trials back for `ORPHAN_GRACE` seconds: a worker that
reports on one (an epoch's progress, its end) has it back; a worker asking for a new trial under the
slot that held one gets that one (it was restarted); after the grace, what is left goes to anyone. A
trial whose end was reported is never handed out again (`kerastuner.drop_ended_retries`). A worker
that waited between trials is unknown to the new chief until it asks again: a resumed chief serves
for at least `REJOIN_SECONDS`, so that such a worker is told the search is over rather than left
without a chief.
"""

from __future__ import annotations

import time
from pathlib import Path

from nnlab.engine import kerastuner, tunerproject
from nnlab.runs import files, folder

ORPHAN_GRACE = 120.0  # seconds a restarted chief keeps its predecessor's running trials for their workers
REJOIN_SECONDS = 10.0  # a resumed chief serves at least this long: a worker of its predecessor waiting to
# ask for its next trial (it tries every 2 s, see `link.RECONNECT_OPTIONS`) is told the search is over
IDLE_WAIT = 1.0  # seconds an idle answer waits (Keras Tuner's worker asks again at once)


class Orphans:
    """The trials the previous chief had handed out: trial id → the worker slot that held it (None: not
    known, a trial whose own file was saved as handed out but not yet the oracle's)."""

    def __init__(self, held: dict[str, str | None], grace: float = ORPHAN_GRACE):
        self.held = dict(held)
        self.until = time.monotonic() + grace

    @classmethod
    def saved(cls, tuner_dir: Path) -> Orphans:
        """Those the oracle last saved as handed out (read before the oracle reloads and queues them), and
        those whose own trial.json says running though the oracle never ended them: Keras Tuner saves a
        new trial's file before the oracle, so a chief killed between the two had handed it out unsaid."""
        try:
            oracle = files.read_json(tuner_dir / tunerproject.ORACLE)
        except (OSError, ValueError):
            oracle = None
        oracle = oracle if isinstance(oracle, dict) else {}
        ongoing = oracle.get("ongoing_trials") if isinstance(oracle.get("ongoing_trials"), dict) else {}
        held: dict[str, str | None] = {str(t): str(s) for s, t in ongoing.items()}
        ended = set(map(str, oracle.get("end_order") or []))
        for trial_id in folder.trial_ids(tuner_dir) if tuner_dir.is_dir() else []:
            try:
                status = files.read_json(folder.trial_dir(tuner_dir, trial_id) / folder.TRIAL_STATE).get("status")
            except (OSError, ValueError, AttributeError):
                continue
            if status == "RUNNING" and trial_id not in ended and trial_id not in held:
                held[trial_id] = None
        return cls(held)

    def heard(self, oracle, trial_id: str) -> None:
        """A worker reported on an orphan: it is alive and the trial is its again, out of the queue."""
        unknown = trial_id in self.held and self.held[trial_id] is None
        slot = self.held.pop(trial_id, None)
        queue = kerastuner.retry_queue(oracle)
        if unknown and trial_id in queue:  # (its worker's slot is not known: held under a slot of its own,
            queue.remove(trial_id)         # seen as that worker reports, ended or timed out as any)
            trial = oracle.trials[trial_id]
            trial.status = "RUNNING"
            oracle.ongoing_trials[f"orphan-{trial_id}"] = trial
        if slot is not None and trial_id in queue and slot not in oracle.ongoing_trials:
            queue.remove(trial_id)
            trial = oracle.trials[trial_id]
            trial.status = "RUNNING"
            oracle.ongoing_trials[slot] = trial
        if slot is not None:
            oracle.tuner_ids.add(slot)  # (the chief ends only once this worker is told the search is over)

    def ended(self, oracle, trial_id: str) -> None:
        """A worker reported an orphan's end: it is alive, and the chief waits to tell it the search is over
        (it has not asked this chief for a trial yet, so the chief would not know it)."""
        slot = self.held.pop(trial_id, None)
        if slot is not None:
            oracle.tuner_ids.add(slot)

    def arrange(self, oracle, slot: str) -> list[str]:
        """Before `slot` is given a trial: the queue's own orphan last (the oracle hands out the last),
        the others held back out of it. Returns those held back, for `restore`."""
        if time.monotonic() > self.until:
            self.held.clear()
        queue = kerastuner.retry_queue(oracle)
        mine = [t for t in queue if self.held.get(t) == slot]
        for trial_id in mine:
            self.held.pop(trial_id)
        back = [t for t in queue if t in self.held]
        queue[:] = [t for t in queue if t not in back and t not in mine] + mine
        return back

    @staticmethod
    def restore(oracle, back: list[str]) -> None:
        kerastuner.retry_queue(oracle).extend(t for t in back if oracle.trials[t].status not in ("COMPLETED", "FAILED"))

    @property
    def waiting(self) -> bool:
        """Trials are held back: a worker with nothing to do waits instead of being told the search is over."""
        return bool(self.held) and time.monotonic() <= self.until
