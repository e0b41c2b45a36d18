"""The run's final model, best.keras, once the search has ended (`FinalModel`): the best trial whose
checkpoint loads, or with search.refit its configuration trained again on every training row, or with
search.ensemble the top K configurations averaged into one model. Written through `files.write_through`
(a full disk leaves the old file whole); the run's records say which it is (refit, ensemble).
"""

from __future__ import annotations

import contextlib
import io
import warnings

from nnlab.engine.final.confirm import confirm
from nnlab.engine.model.files import weights_problem
from nnlab.faults import kill_point
from nnlab.runs import files


class FinalModel:
    """best.keras for a sweep that keeps the run's records (`sweep.RecordingSweep`), from its `tuner`."""

    def __init__(self, sweep, tuner):
        self.tuner = tuner
        self.spec, self.data, self.folder = sweep.spec, sweep.data, sweep.folder
        self.log, self.trainer, self.reporter = sweep.log, sweep.trainer, sweep.reporter
        self.deadline = sweep.limits.deadline  # (search.max_minutes: search.confirm keeps within it)

    def save_best(self) -> None:
        """best.keras from the best trial whose checkpoint can be loaded."""
        from nnlab.spec.space import sample_params

        path, ranked = self.folder.best_model_path, self.log.ranked()
        if not ranked or (self.log.best_model_trial == ranked[0].trial_id and path.is_file()):
            return
        for record in ranked:
            trial = self.tuner.oracle.get_trial(record.trial_id)
            try:
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the checkpoint's optimizer state is not needed
                    model = self.tuner.load_model(trial)
            except Exception as exc:  # a deleted or damaged checkpoint: say so, try the next best
                problem = weights_problem(self.folder.checkpoint_path(record.trial_id), "the checkpoint", exc)
                self.reporter.warn(f"trial {record.trial_id}: {problem}; best.keras will hold the next best trial")
                continue
            saved = self.trainer.model_for_saving(model, sample_params(trial.hyperparameters, self.spec))
            files.write_through(path, saved.save, path.with_name(".best.tmp.keras"), files.model_bytes(saved, True))
            self.log.best_model_trial = record.trial_id
            return

    def refit_best(self) -> None:
        """The final best.keras. search.refit: the best configuration trained again on every training row
        for the epochs its search found best. search.ensemble K: the top K configurations (each refitted,
        or as its search trained it) averaged into one model. Done once per choice of trials: a resumed
        run whose refit was cut short does it again; one whose refit is done does nothing."""
        search = self.spec.search
        ranked = self.log.ranked()
        confirmed = confirm(self, ranked)
        if confirmed:  # (search.confirm: its order first, then the rest as the search ranked them)
            first = [r for t in confirmed["order"] for r in ranked if r.trial_id == t]
            ranked = first + [r for r in ranked if r not in first]
        ensembled = ranked[:search.ensemble]
        if not ensembled:
            return
        chosen = [r.trial_id for r in ensembled]
        want_refit, want_ensemble = chosen[0] if search.refit else None, chosen if len(chosen) > 1 else None
        done_refit, done_ensemble = (self.log.refit or {}).get("trial"), (self.log.ensemble or {}).get("trials")
        if done_refit == want_refit and done_ensemble == want_ensemble:
            return
        if want_refit is None and want_ensemble is None:  # (refit and ensemble turned off on a resume)
            self.log.refit = self.log.ensemble = self.log.best_model_trial = None
            self.save_best()
            return
        models = {}
        for record in ensembled:
            try:
                models[record.trial_id] = self._ensemble_model(record)
            except OSError as exc:  # (without refit: a checkpoint deleted, damaged or never kept)
                problem = weights_problem(self.folder.checkpoint_path(record.trial_id), "the checkpoint", exc)
                self.reporter.warn(f"trial {record.trial_id} is left out of search.ensemble: {problem}")
        if not models:
            return
        chosen = list(models)
        kill_point("refit")
        params = self.params_of(chosen[0])
        saved = self.trainer.model_for_saving(models[chosen[0]][0], params,
                                              {i: m for i, (m, _) in models.items()} if len(chosen) > 1 else None)
        path = self.folder.best_model_path
        files.write_through(path, saved.save, path.with_name(".best.tmp.keras"), files.model_bytes(saved, True))
        rows = len(self.data.x_train) + len(self.data.x_val)
        self.log.refit = {"trial": chosen[0], "epochs": models[chosen[0]][1], "rows": rows} if search.refit else None
        self.log.ensemble = {"trials": chosen, "refit": search.refit} if len(chosen) > 1 else None

    def params_of(self, trial_id: str) -> dict:
        from nnlab.spec.space import sample_params

        return sample_params(self.tuner.oracle.get_trial(trial_id).hyperparameters, self.spec)

    def _ensemble_model(self, record) -> tuple:
        """(a model of this trial's configuration for best.keras, its epochs): refitted on every training
        row (search.refit), else as its search trained it (its kept checkpoint)."""
        params = self.params_of(record.trial_id)
        confirmed = (self.log.confirmed or {}).get("trials", {}).get(record.trial_id, {})
        epochs = confirmed.get("best_epoch") or record.best_epoch or self.spec.train.epochs
        if not self.spec.search.refit:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the checkpoint's optimizer state is not needed
                return self.tuner.load_model(self.tuner.oracle.get_trial(record.trial_id)), epochs
        rows = len(self.data.x_train) + len(self.data.x_val)
        role = "" if self.spec.search.ensemble == 1 else f" (one of the {self.spec.search.ensemble} of search.ensemble)"
        if confirmed.get("best_epoch"):
            role += ", its best epoch over search.confirm's folds"
        self.reporter.say(f"refit: trial {record.trial_id}'s configuration on all {rows} training rows for {epochs} "
                          f"epoch(s){role} (search.refit)")
        import keras

        keras.utils.set_random_seed(self.spec.seed + record.number)
        model, _ = self.trainer.refit(params, epochs)
        return model, epochs
