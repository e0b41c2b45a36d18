"""A run folder, `runs/<name>/`: the one place its layout is known and its files are read.

`RunFolder(path)` names every file of a run (summary, trials, spec copy, preprocessing, best model,
the tuner's project and each trial's folder in it). `read()` never raises: a damaged run comes back
with its problems listed, as `nnlab compare` shows it. `load()` is the strict reader that predict,
evaluate, export, plot, report and retrain use: a folder that is not a run, or is damaged, is a
`RunError`. Reading never imports TensorFlow.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nnlab import readback
from nnlab.errors import RunError, first_line
from nnlab.runs import files
from nnlab.runs.records import Summary, TrialRecord, by_number, rank
from nnlab.runs.trialprogress import TrialProgress

if TYPE_CHECKING:
    from nnlab.data.preparation import Preparation

TRIAL_PREFIX = "trial_"
TRIAL_STATE = "trial.json"  # Keras Tuner's state of one trial, in its folder


def trial_dir(tuner_dir: Path, trial_id: str) -> Path:
    """The folder of one trial in Keras Tuner's project (`tuner/trial_ID`): the one place it is named."""
    return tuner_dir / f"{TRIAL_PREFIX}{trial_id}"


def trial_ids(tuner_dir: Path) -> list[str]:
    """The trials that have a folder in Keras Tuner's project."""
    return sorted(p.name[len(TRIAL_PREFIX):] for p in tuner_dir.glob(f"{TRIAL_PREFIX}*") if p.is_dir())


@dataclass
class FolderContents:
    """What a run folder's plain files say, and what is wrong with them (for a damaged run)."""

    summary: Summary
    records: list[TrialRecord]
    problems: list[str] = field(default_factory=list)

    @property
    def ranked(self) -> list[TrialRecord]:
        """Completed trials, best first."""
        return rank(self.records, self.summary.direction)

    @property
    def best(self) -> TrialRecord | None:
        ranked = self.ranked
        return ranked[0] if ranked else None

    @property
    def completed(self) -> int:
        return sum(r.completed for r in self.records)


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    # ---- where each file lives

    summary_path = property(lambda self: self.path / files.SUMMARY)
    trials_path = property(lambda self: self.path / files.TRIALS)
    spec_path = property(lambda self: self.path / files.SPEC_COPY)
    preprocessing_path = property(lambda self: self.path / files.PREPROCESSING)
    best_model_path = property(lambda self: self.path / files.BEST_MODEL)
    tuner_dir = property(lambda self: self.path / files.TUNER_DIR)

    def trial_dir(self, trial_id: str) -> Path:
        """Keras Tuner's folder of one trial (its state, checkpoint and nnlab's history of it)."""
        return trial_dir(self.tuner_dir, trial_id)

    def checkpoint_path(self, trial_id: str) -> Path:
        return self.trial_dir(trial_id) / "checkpoint.weights.h5"

    def trial_state_path(self, trial_id: str) -> Path:
        return self.trial_dir(trial_id) / TRIAL_STATE

    def trial_progress_path(self, trial_id: str) -> Path:
        return self.trial_dir(trial_id) / files.TRIAL_PROGRESS

    def trial_progress(self, trial_id: str) -> TrialProgress | None:
        """The trial's nnlab_trial.json (see `trialprogress`), or None while it has none."""
        return TrialProgress.read(self.trial_progress_path(trial_id))

    def trial_ids_on_disk(self) -> list[str]:
        return trial_ids(self.tuner_dir)

    def is_run(self) -> bool:
        return files.is_run_dir(self.path)

    # ---- reading

    def read(self) -> FolderContents:
        """The run's summary and trials, with the problems of a damaged folder; never raises."""
        problems: list[str] = []
        summary = Summary(run=self.name)
        try:
            summary = files.read_summary(self.summary_path, problems)
        except FileNotFoundError:
            problems.append("summary.json is missing")
        except readback.DamagedFile as exc:
            problems.append(str(exc))
        except (OSError, ValueError, TypeError) as exc:
            problems.append(f"summary.json is damaged ({first_line(exc, 120)})")
        summary.run = summary.run or self.name
        records: list[TrialRecord] = []
        if self.trials_path.is_file():
            hp_names, metric_names = summary.hyperparameter_names, summary.metric_names
            try:
                if hp_names is None or metric_names is None:
                    hp_names, metric_names = files.trial_columns(self.trials_path)
                records = by_number(files.read_trials(self.trials_path, hp_names, metric_names, problems))
            except (OSError, ValueError, csv.Error) as exc:
                problems.append(f"trials.csv is damaged ({first_line(exc, 120)})")
        else:
            problems.append("trials.csv is missing")
        if problems or summary.objective is None:  # the objective and its direction from the spec's copy
            summary.objective, summary.direction = self._objective(summary, records)
        return FolderContents(summary, records, problems)

    def _objective(self, summary: Summary, records: list[TrialRecord]) -> tuple[str | None, str]:
        """(objective, direction) as the run's spec.yaml sets them; where it cannot be read, the metric
        of trials.csv whose values are the trials' scores; else the summary's."""
        import yaml

        from nnlab.spec.objectives import metric_direction

        try:
            objective = (yaml.safe_load(self.spec_path.read_text(encoding="utf-8")) or {})["search"]["objective"]
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
            scored = [r for r in records if r.status == "completed" and r.score is not None]
            names = [n for n in (scored[0].metrics if scored else {})
                     if all(r.metrics.get(n) == r.score for r in scored)]
            if summary.objective is None and len(names) == 1:
                return names[0], metric_direction(names[0])
            return summary.objective, summary.direction
        if isinstance(objective, dict) and objective.get("direction") in ("min", "max"):
            return str(objective.get("name")), objective["direction"]
        if isinstance(objective, str):
            return objective, metric_direction(objective)
        return summary.objective, summary.direction

    def load(self) -> FolderContents:
        """`read()` for a command that needs the whole run: a clear error if it is not one or damaged."""
        self.require()
        contents = self.read()
        if contents.problems:
            raise RunError(f"{self.path} is damaged ({'; '.join(contents.problems)}); `nnlab run` on its spec "
                           "repairs what it can")
        return contents

    def require(self) -> RunFolder:
        if not self.is_run():
            raise RunError(f"{self.path} is not an nnlab run folder (it has no summary.json); give a folder "
                           "inside runs/, e.g. runs/NAME")
        return self

    def preparation(self) -> Preparation:
        """How raw data became model inputs (preprocessing.json), for predict, evaluate and export."""
        from nnlab.data.preparation import Preparation  # (pandas, which compare never needs)

        try:
            return Preparation.from_json(files.read_json(self.preprocessing_path))
        except readback.DamagedFile as exc:
            raise RunError(f"{self.path} is damaged: {exc}") from None
        except KeyError as exc:
            raise RunError(f"{self.path} is damaged: {self.preprocessing_path.name} has no {exc}") from None
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise RunError(f"{self.path} is damaged: {self.preprocessing_path.name}: {exc}") from None
        except RunError as exc:
            raise RunError(f"{self.path}: {exc}") from None

    def spec(self):
        """The spec as it was run (spec.yaml)."""
        from nnlab.spec.loader import load_spec

        return load_spec(self.spec_path)

    def history(self, trial_id: str) -> list[dict]:
        """A trial's per-epoch history (one dict of curves per execution); [] if not kept."""
        progress = self.trial_progress(trial_id)
        return progress.history if progress else []
