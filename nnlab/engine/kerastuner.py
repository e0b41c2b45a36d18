"""Keras Tuner, fenced: every private name of Keras Tuner that nnlab uses.

nnlab runs Keras Tuner's own tuners, oracles and chief/worker service. Where Keras Tuner offers no
public way, nnlab reaches into it; every such place is in this module, listed in `PRIVATE_NAMES` and
checked by `check_private_names()` (a test runs it, so an upgrade that moves one fails loudly), and
`pyproject.toml` bounds the Keras Tuner versions these were checked against.

What it fences:
- Keras Tuner's JSON writer, replaced by nnlab's atomic one (`make_writes_atomic`), and the keys of
  `oracle.json` that `tunerproject.repair` edits before a resume (`ORACLE_KEYS`, checked).
- A resumed grid search's place in its grid, which Keras Tuner does not save (`restore_grid_walk`).
- search.constraints: an oracle that hands out no configuration over a limit (`keep_within`).
- The per-trial checkpoint writer (`is_checkpoint_writer`), the model build without a full garbage
  collection (`FastBuild`), the Hyperband trial count (`hyperband_trials`), Keras Tuner's debug
  tracebacks (`import_keras_tuner`), a trial's saved state (`load_trial`).
- The distributed oracle: its servicer and protocol (`servicer_base`, `add_servicer`, `no_trial_response`,
  `stopped_update_response`, `end_trial_response`), its queue of trials to retry (`retry_queue`,
  `drop_ended_retries`), the workers' bound on each call to the chief (`set_client_timeout`) and
  their stub (`use_stub`).
- search.pack: several trials at once from one tuner (`create_trials`, under slot ids `slot_id`), a
  trial's checkpoint writer (`checkpoint_writer`), Keras Tuner's own recording of a trial's results
  (`run_and_update`). A resumed oracle hands out again, itself, the trials a killed process left
  running: a pack is resumed as its unfinished trials.

Each function imports Keras Tuner when called.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from nnlab.engine.tunerproject import BACKUP, ORACLE
from nnlab.runs import files
from nnlab.spec.names import TUNERS

# (module, attribute) pairs of Keras Tuner's private API that nnlab uses, and private attributes of its
# objects (class, attribute). `check_private_names` says which of them a Keras Tuner version lacks.
PRIVATE_NAMES = [
    ("keras_tuner.src.utils", "save_json"),
    ("keras_tuner.src.config", "DEBUG"),
    ("keras_tuner.src.engine.tuner_utils", "SaveBestEpoch"),
    ("keras_tuner.src.engine.trial", "Trial"),
    ("keras_tuner.src.engine.trial", "TrialStatus"),
    ("keras_tuner.src.distribute.oracle_chief", "OracleServicer"),
    ("keras_tuner.src.protos", "get_service"),
    ("keras_tuner.src.protos", "get_service_grpc"),
    ("keras_tuner.src.distribute.utils", "has_chief_oracle"),
    ("keras_tuner.src.distribute.utils", "is_chief_oracle"),
    ("keras_tuner.src.distribute.oracle_client", "TIMEOUT"),
    ("keras_tuner.src.distribute.oracle_client", "OracleClient"),
    ("keras_tuner.src.tuners.gridsearch", "LinkedList"),
]
PRIVATE_ATTRIBUTES = [
    ("keras_tuner.src.engine.tuner", "Tuner", "_try_build"),
    ("keras_tuner.src.engine.tuner", "Tuner", "_get_checkpoint_fname"),
    ("keras_tuner.src.engine.base_tuner", "BaseTuner", "_try_run_and_update_trial"),
    ("keras_tuner.src.engine.tuner", "Tuner", "_build_hypermodel"),
    ("keras_tuner.src.tuners.hyperband", "HyperbandOracle", "_get_size"),
    ("keras_tuner.src.tuners.hyperband", "HyperbandOracle", "_get_num_brackets"),
    ("keras_tuner.src.tuners.hyperband", "HyperbandOracle", "_get_num_rounds"),
    ("keras_tuner.src.tuners.gridsearch", "GridSearchOracle", "_compare"),
    ("keras_tuner.src.tuners.gridsearch", "GridSearchOracle", "_get_next_combination"),
    ("keras_tuner.src.engine.oracle", "Oracle", "_random_values"),
]
ORACLE_KEYS = ("ongoing_trials", "retry_queue", "end_order", "start_order", "hyperparameters")  # (tunerproject)


def check_private_names() -> list[str]:
    """The private names of `PRIVATE_NAMES` and `PRIVATE_ATTRIBUTES` this Keras Tuner lacks (none: []),
    and whether an oracle still saves the keys `repair` edits."""
    missing = []
    for module, name in PRIVATE_NAMES:
        try:
            getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            missing.append(f"{module}.{name}")
    for module, cls, name in PRIVATE_ATTRIBUTES:
        try:
            getattr(getattr(importlib.import_module(module), cls), name)
        except (ImportError, AttributeError):
            missing.append(f"{module}.{cls}.{name}")
    state = import_keras_tuner().oracles.RandomSearchOracle(objective="loss", max_trials=1).get_state()
    return missing + [f"the key {key!r} of {ORACLE}" for key in ORACLE_KEYS if key not in state]


# ------------------------------------------------------------------------------------ the library


def import_keras_tuner():
    """`import keras_tuner` after TensorFlow's quiet import, with its per-trial tracebacks off (nnlab
    records a one-line reason) and its JSON writes made atomic."""
    import warnings

    from nnlab.engine.backend import import_tensorflow

    import_tensorflow()
    import keras_tuner
    from keras_tuner.src import config

    config.DEBUG = False
    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    # The Bayesian oracle's Gaussian process often meets its length-scale bounds on a few trials: scikit-learn's
    # warning says so to the student, who can do nothing about it (the oracle still proposes a trial)
    warnings.filterwarnings("ignore", message=".*close to the specified (lower|upper) bound",
                            module="sklearn.gaussian_process")
    make_writes_atomic()
    return keras_tuner


def make_writes_atomic() -> None:
    """Route Keras Tuner's JSON writes through `files.write_atomic` (once per process)."""
    from keras_tuner.src import utils as kt_utils

    if getattr(kt_utils.save_json, "nnlab_atomic", False):
        return

    def save_json(path, obj):
        text = json.dumps(obj)
        path = Path(path)
        if path.name == ORACLE and path.is_file():
            files.write_atomic(path.with_name(BACKUP), path.read_text(encoding="utf-8"), point="tuner_write")
        files.write_atomic(path, text, point="tuner_write")
        return text

    save_json.nnlab_atomic = True
    kt_utils.save_json = save_json


def restore_grid_walk(oracle) -> None:
    """A reloaded grid search, set where its walk through the grid was. Keras Tuner does not save it
    (the trials in grid order, `_ordered_ids`, and those to step on from, `_populate_next`: each ended
    trial adds itself), so a grid resumed after a trial ended unsaved (a kill as it ended), between
    trials, or with a larger max_trials found nothing to step on from and stopped short of its grid.
    Rebuilt from the trials it has: each one in grid order, each ended one to step on from."""
    if getattr(oracle, "_populate_next", None) != [] or not oracle.trials:
        return  # (not a grid, not reloaded, or a walk under way)
    from functools import cmp_to_key

    from keras_tuner.src.tuners.gridsearch import LinkedList

    def order(a: str, b: str) -> int:
        return oracle._compare(oracle.trials[a].hyperparameters.values, oracle.trials[b].hyperparameters.values)

    ids = sorted((t for t in dict.fromkeys(oracle.start_order) if t in oracle.trials), key=cmp_to_key(order))
    walk = LinkedList()
    for trial_id in ids:
        walk.insert(trial_id)
    oracle._ordered_ids = walk
    oracle._populate_next = [t for t in ids if t in oracle.end_order]


DRAWS = 1000  # configurations over search.constraints in a row, after which the search stops


def keep_within(oracle, reason_of, said) -> None:
    """search.constraints: the oracle never hands out a configuration over a limit. `reason_of(values)`
    says why values are over one (None: within); `said(values, reason)` hears of each configuration left
    out, once (values None: DRAWS draws in a row were over, and the search stops). A grid steps over
    such combinations (its walk goes on from them); a random or Bayesian suggestion over a limit is
    replaced by another random one."""
    from keras_tuner import Oracle

    if not isinstance(oracle, Oracle) or getattr(oracle, "_nnlab_within", False):
        return  # (a worker's client of the chief's oracle, or already limited)
    oracle._nnlab_within = True
    grid = hasattr(oracle, "_get_next_combination")
    step, populate = (oracle._get_next_combination if grid else None), oracle.populate_space
    left_out: set = set()

    def within(values, draw):
        for _ in range(DRAWS):
            reason = reason_of(values) if values is not None else None
            if reason is None:
                return values
            key = repr(sorted(values.items()))
            if key not in left_out:
                left_out.add(key)
                said(values, reason)
            values = draw(values)
        said(None, f"{DRAWS} draws in a row were over search.constraints (those within them may all be tried)")
        return None

    def populate_within(trial_id):
        answer = populate(trial_id)
        if answer.get("status") != "RUNNING" or answer.get("values") is None:
            return answer
        values = within(answer["values"], step if grid else lambda _: oracle._random_values())
        return {"status": "RUNNING", "values": values} if values is not None else {"status": "STOPPED",
                                                                                   "values": None}

    if grid:
        oracle._get_next_combination = lambda values: within(step(values), step)
    oracle.populate_space = populate_within


def tuner_base(name: str):
    """Keras Tuner's tuner class for `search.tuner`."""
    return getattr(import_keras_tuner(), TUNERS[name].keras)


def fatal(message: str) -> Exception:
    """An error that Keras Tuner lets through its trial loop (it records any other as a failed trial)."""
    from keras_tuner.errors import FatalError

    return FatalError(message)


def load_trial(path: Path):
    """A trial's saved state (`tuner/trial_ID/trial.json`) as Keras Tuner's Trial."""
    from keras_tuner.src.engine.trial import Trial

    return Trial.load(str(path))


def is_checkpoint_writer(callback) -> bool:
    """Keras Tuner's per-epoch checkpoint writer, which nnlab replaces by one that writes once."""
    from keras_tuner.src.engine import tuner_utils

    return isinstance(callback, tuner_utils.SaveBestEpoch)


class FastBuild:
    """Mixed into a tuner: Keras Tuner's model build without its `clear_session()` and full garbage
    collection before every model (nnlab frees the last trial's memory when it ends)."""

    def _try_build(self, hp):
        import keras
        from keras_tuner.errors import FatalTypeError

        model = self._build_hypermodel(hp)
        if not isinstance(model, keras.Model):
            raise FatalTypeError(f"the model builder returned {type(model).__name__}, not a Keras model")
        return model


def tracked_metrics(trial) -> dict:
    """A finished trial's metrics at its best step, from Keras Tuner's own record of it."""
    metrics = {}
    for name, history in trial.metrics.metrics.items():
        observations = {obs.step: obs.mean() for obs in history.get_history()}
        value = observations.get(trial.best_step, history.get_best_value())
        if value is not None:
            metrics[name] = float(value)
    return metrics


def hyperband_trials(oracle) -> int | None:
    """How many trials a Hyperband search runs, from its oracle's brackets; None if unknown."""
    try:
        return sum(oracle._get_size(b, r) for b in range(oracle._get_num_brackets())
                   for r in range(oracle._get_num_rounds(b)))
    except Exception:  # private API: a total is nice to have, not needed
        return None


# ------------------------------------------------------------------------------------ search.pack

SLOT_MARK = "#"  # a tuner's slot ids: "tuner0", "tuner0#2", … (Keras Tuner keeps one running trial per id)


def slot_id(tuner_id: str, slot: int) -> str:
    """The id under which a tuner asks for the trial of its slot `slot` (0: the tuner's own id)."""
    return tuner_id if slot == 0 else f"{tuner_id}{SLOT_MARK}{slot + 1}"


def owner_of(slot: str) -> str:
    """The tuner (worker) that asked under a slot id."""
    return slot.split(SLOT_MARK, 1)[0]


def create_trials(oracle, tuner_id: str, slots: int) -> tuple[list, bool]:
    """Up to `slots` trials from the oracle, one per slot id, as Keras Tuner hands one to each worker (a
    restarted worker's slot gets its running trial back). Every slot is asked, so that a search that has
    ended releases each of them. Returns (the trials, whether the oracle said the search is over)."""
    from keras_tuner.src.engine.trial import TrialStatus

    trials, stopped = [], False
    for slot in range(slots):
        trial = oracle.create_trial(slot_id(tuner_id, slot))
        if trial.status == TrialStatus.STOPPED:
            stopped = True
        elif trial.status == TrialStatus.RUNNING and all(t.trial_id != trial.trial_id for t in trials):
            trials.append(trial)
    return trials, stopped


def checkpoint_writer(tuner, trial_id: str):
    """The checkpoint writer Keras Tuner's `run_trial` gives a trial (its best epoch's weights)."""
    from keras_tuner.src.engine import tuner_utils

    return tuner_utils.SaveBestEpoch(objective=tuner.oracle.objective, filepath=tuner._get_checkpoint_fname(trial_id))


def set_oracle_verbose(tuner, verbose) -> None:
    """What Keras Tuner's `search` does with its `verbose`: the oracle's display, where the oracle is this
    process's own (a worker's is the chief's, over the network)."""
    from keras_tuner.src.distribute import utils as dist_utils

    if not dist_utils.has_chief_oracle() or dist_utils.is_chief_oracle():
        tuner.oracle.verbose = verbose


def run_and_update(tuner, trial, *fit_args, **fit_kwargs) -> None:
    """Keras Tuner's own step of its search loop for a trial: `run_trial`, then the results into the
    oracle (the objective's best epoch and the metrics at it), and the trial's status (a failure:
    FAILED with its message)."""
    tuner._try_run_and_update_trial(trial, *fit_args, **fit_kwargs)


# ------------------------------------------------------------------------------------ the distributed oracle


def servicer_base():
    """Keras Tuner's gRPC servicer of an oracle (the chief's side)."""
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    return OracleServicer


def add_servicer(servicer, server) -> None:
    from keras_tuner.src import protos

    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)


def no_trial_response(oracle, status: str = "STOPPED"):
    """The answer that gives a worker no trial: STOPPED, the search is over (as Keras Tuner says when
    trials run out); IDLE, ask again."""
    return _trial_answer("CreateTrialResponse", oracle, status.lower(), status)


def stopped_update_response(oracle, trial_id: str):
    """The answer to a worker's progress report that stops its training (the search is over)."""
    return _trial_answer("UpdateTrialResponse", oracle, trial_id, "STOPPED")


def _trial_answer(kind: str, oracle, trial_id: str, status: str):
    from keras_tuner.src import protos
    from keras_tuner.src.engine import trial as trial_module

    trial = trial_module.Trial(oracle.get_space(), trial_id=trial_id, status=status)
    return getattr(protos.get_service(), kind)(trial=trial.to_proto())


def retry_queue(oracle) -> list:
    """The oracle's trials waiting to run again (a dropped worker's trial goes there)."""
    return oracle._retry_queue


def drop_ended_retries(oracle) -> list[str]:
    """Trials queued to retry that have ended since (a restarted chief queues those its predecessor left
    running, and a worker that outlived it reports them): out of the queue, never handed out again."""
    queue = retry_queue(oracle)
    ended = [i for i in queue if oracle.trials[i].status in ("COMPLETED", "FAILED")]
    queue[:] = [i for i in queue if i not in ended]
    return ended


def end_trial_response():  # (the empty answer to a worker's report of a trial's end)
    return importlib.import_module("keras_tuner.src.protos").get_service().EndTrialResponse()


def set_client_timeout(seconds: float) -> None:
    """How long a worker's every call to the chief waits for it (Keras Tuner's own bound is an hour)."""
    importlib.import_module("keras_tuner.src.distribute.oracle_client").TIMEOUT = seconds


def use_stub(tuner, make_stub) -> None:
    """A worker's tuner talks to the chief through `make_stub(OracleStub)` (Keras Tuner's `OracleClient`
    makes its own stub, over a channel with gRPC's default settings)."""
    client = importlib.import_module("keras_tuner.src.distribute.oracle_client").OracleClient
    if isinstance(tuner.oracle, client):
        tuner.oracle.stub = make_stub(importlib.import_module("keras_tuner.src.protos").get_service_grpc().OracleStub)
