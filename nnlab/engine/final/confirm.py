"""search.confirm: K — a choice of the final configuration that its luck cannot explain.

A search ranks hundreds of trials on one validation split; on a small file the top of that ranking is
mostly the noise of the split and of one training (Cawley and Talbot, JMLR 2010: overfitting in model
selection). After the search, the top K configurations are each trained again, from fresh weights,
once per fold of `FOLDS` over the training and validation rows together (by data.split's scheme:
shuffled with the next seed, so not the partition data.folds chose them on; forward-chaining in time;
or by group), and ranked by the best epoch of their folds' mean curve. The winner becomes best.keras,
refitted for that fold-mean best epoch, which a lucky early peak of one split cannot cut to 3. The
record (`Summary.confirmed`) keeps every score, so a resumed run with the same top K does not train
them again.
"""

from __future__ import annotations

import math
import time

from nnlab.errors import DataError, plural
from nnlab.runs.records import best_index

FOLDS = 5  # folds of the training and validation rows each confirmed configuration is trained on


def confirm(final, ranked: list) -> dict | None:
    """The confirmation record {folds, trials: {id: {score, std, best_epoch}}, order} for the top K of
    `ranked` (records best first), reused from the log when it holds the same trials; None when
    search.confirm is off or fewer than two trials completed."""
    count = final.spec.search.confirm
    top = [r.trial_id for r in ranked[:count]]
    if count < 2 or len(top) < 2:
        return None
    done = final.log.confirmed or {}
    if done.get("candidates") == top:
        return done
    from nnlab.engine.trainer import Trainer

    data = final.data
    rows = len(data.x_train) + len(data.x_val)
    folds = min(FOLDS, rows // 2)
    if folds < 2:
        final.reporter.warn(f"search.confirm is skipped: {rows} rows are too few to cross-validate")
        return None
    # (fresh folds where they are shuffled: the seed's next, not the partition data.folds chose the top K on)
    trainer = Trainer(final.spec.model_copy(update={"seed": final.spec.seed + 1}), data,
                      strategy=final.trainer.strategy)
    trainer.fold_count = folds
    try:
        _ = trainer.folds  # (the folds data.split can make: too few times or groups is said, nothing is confirmed)
    except DataError as exc:
        final.reporter.warn(f"search.confirm is skipped: {exc}")
        return None
    fit = _fitting(final, len(top), folds)
    if fit < 2:
        final.reporter.warn(f"search.confirm is skipped: what is left of search.max_minutes does not fit two "
                            f"configurations' {folds} folds (at the median trial's time); best.keras is the "
                            "search's best. Raise search.max_minutes, or lower search.confirm")
        return None
    top = top[:fit]
    final.reporter.say(f"search.confirm: the top {len(top)} configurations (trials {', '.join(top)}) each "
                       f"cross-validated over {folds} folds of all {rows} rows before one is chosen…")
    scores = {}
    for record in ranked[:len(top)]:
        if len(scores) >= 2 and final.deadline and time.monotonic() > final.deadline:
            final.reporter.warn(f"search.confirm stops at {len(scores)} of {len(top)} configurations: the time "
                                "budget (search.max_minutes) is used")
            top = list(scores)
            break
        scores[record.trial_id] = _score(final, trainer, record)
        final.reporter.say(f"  trial {record.trial_id}: {_shown(scores[record.trial_id], final.trainer.objective)}")
    finite = [t for t in top if scores[t]["score"] is not None and math.isfinite(scores[t]["score"])]
    order = sorted(finite, key=lambda t: scores[t]["score"], reverse=final.trainer.direction == "max")
    order += [t for t in top if t not in order]
    result = {"folds": folds, "candidates": top, "trials": scores, "order": order}
    final.log.confirmed = result
    return result


def _fitting(final, count: int, folds: int) -> int:
    """How many of the top `count` configurations the time budget has room to cross-validate: all
    without search.max_minutes, else as many as fit in what is left at the median completed trial's time
    per fold (the search kept at most a third of its budget for this: `sweep.Limits.reserve`)."""
    seconds = sorted(r.seconds for r in final.log.records.values() if r.completed and r.seconds)
    if not final.deadline or not seconds:
        return count
    per = folds * seconds[len(seconds) // 2]
    return min(count, int(max(final.deadline - time.monotonic(), 0) // per)) if per > 0 else count


def _score(final, trainer, record) -> dict:
    """One configuration's fold-mean score, its spread over the folds and its fold-mean best epoch."""
    import keras

    params = final.params_of(record.trial_id)
    keras.utils.set_random_seed(final.spec.seed + 7919 + record.number)  # (fresh weights, not the trial's)
    work = trainer.begin_trial()
    try:
        history = trainer.fit(params, trainer.compiled_model(params), epochs=final.spec.train.epochs, verbose=0)
    except Exception as exc:  # a configuration that fails here is not chosen; the others still are
        final.reporter.warn(f"search.confirm: trial {record.trial_id} failed when cross-validated ({exc}); it is "
                            "not chosen")
        return {"score": None, "std": None, "best_epoch": None}
    curve = history.history.get(trainer.objective, [])
    index = best_index(curve, trainer.direction)
    return {"score": None if index is None else float(curve[index]), "std": work.fold_std,
            "best_epoch": None if index is None else index + 1}


def _shown(score: dict, objective: str) -> str:
    if score["score"] is None:
        return "no score"
    spread = f" ± {score['std']:.4g}" if score.get("std") is not None else ""
    return f"{objective} {score['score']:.4g}{spread} over the folds, best at epoch {score['best_epoch']}"


def described(confirmed: dict | None, objective: str) -> str | None:
    """The closing line: which configuration the confirmation chose, and from which."""
    if not confirmed or not confirmed.get("order"):
        return None
    first = confirmed["order"][0]
    score = confirmed["trials"][first]
    lead = "the search's best" if first == confirmed["candidates"][0] else "not the search's best"
    return (f"search.confirm: trial {first} ({lead}) becomes best.keras, {_shown(score, objective)}, the best of "
            f"{plural(len(confirmed['candidates']), 'configuration')} cross-validated over "
            f"{confirmed['folds']} folds")
