"""The chief's gRPC service: Keras Tuner's `OracleServicer`, each request it answers told to the `Chief`
(which worker asks, which trial starts and ends), under the chief's lock. A restarted chief holds back
its predecessor's running trials for their workers (`restart.Orphans`), and a trial reported twice
keeps its first result. While the chief writes the final files it still answers: a worker that comes
late is told the search is over.
"""

from __future__ import annotations

import time

from nnlab.distributed.restart import IDLE_WAIT
from nnlab.engine import kerastuner


class ChiefService:
    """What the chief adds to Keras Tuner's `OracleServicer` (its base in `servicer_class`): each request
    told to the `Chief`, under its lock."""

    def __init__(self, oracle, chief):  # (chief: the `chief.Chief` it tells)
        super().__init__(oracle)
        self.chief = chief

    def CreateTrial(self, request, context):
        chief = self.chief
        with chief.lock:
            chief.seen(request.tuner_id)
            kerastuner.drop_ended_retries(self.oracle)  # (a restarted chief's queue: none trained twice)
            ongoing = self.oracle.ongoing_trials.get(request.tuner_id)
            if chief.stopping or (ongoing is None and chief.next_trial_allowed()):
                # No new trial: tell this worker to stop, as Keras Tuner does when trials run out.
                self.stop_triggered = True
                self.oracle.tuner_ids.discard(request.tuner_id)
                return kerastuner.no_trial_response(self.oracle)
            return self.create_trial(request, context)

    def create_trial(self, request, context):
        """Keras Tuner's answer, the trials a restarted chief holds back for their workers aside
        (`restart.Orphans`): while it holds some, a worker is told to wait, never that the search is over."""
        chief, stopped = self.chief, self.stop_triggered
        suspects = chief.hold_suspects(request.tuner_id)
        if suspects is None:
            return kerastuner.no_trial_response(self.oracle, "IDLE")
        back = chief.orphans.arrange(self.oracle, request.tuner_id)
        try:
            response = super().CreateTrial(request, context)
        finally:
            chief.orphans.restore(self.oracle, back)
            kerastuner.retry_queue(self.oracle).extend(suspects)
        trial = self.oracle.ongoing_trials.get(request.tuner_id)
        if trial is not None:
            chief.trial_started(trial, kerastuner.owner_of(request.tuner_id))
        elif self.stop_triggered and chief.orphans.waiting:
            self.stop_triggered = stopped
            time.sleep(IDLE_WAIT)
            return kerastuner.no_trial_response(self.oracle, "IDLE")
        return response

    def UpdateTrial(self, request, context):
        with self.chief.lock:
            if self.chief.stopping:  # (the chief writes the final files: the worker stops training)
                return kerastuner.stopped_update_response(self.oracle, request.trial_id)
            self.chief.orphans.heard(self.oracle, request.trial_id)  # (its worker outlived the last chief)
            self.chief.seen_trial(request.trial_id)
            return super().UpdateTrial(request, context)

    def EndTrial(self, request, context):
        with self.chief.lock:
            if self.chief.stopping:
                self.chief.sweep.reporter.warn(f"trial {request.trial.trial_id} was reported after the search had "
                                               "ended; not recorded (resuming the run trains it again)")
                return kerastuner.end_trial_response()
            self.chief.seen_trial(request.trial.trial_id)
            self.chief.orphans.ended(self.oracle, request.trial.trial_id)
            self.chief.suspects.discard(request.trial.trial_id)
            if self.chief.ended_before(request.trial.trial_id):
                return kerastuner.end_trial_response()
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


def servicer_class():
    """Keras Tuner's `OracleServicer` (imported when the chief starts), telling the `Chief` about each
    request it answers."""
    return type("Servicer", (ChiefService, kerastuner.servicer_base()), {})
