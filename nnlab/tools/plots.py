"""Pictures of a run (`nnlab plot`): PNG files drawn with matplotlib's headless backend.

- learning_curves.png: training and validation curves of the best trials, epoch by epoch;
- objective_vs_hyperparameters.png: the objective against each hyperparameter, one panel each;
- parallel_coordinates.png: every trial as a line across the hyperparameters, coloured by score;
- importance.png: how much each hyperparameter explains the score (permutation importance of a
  random forest fitted on the trials; the picture says so, and says when there are too few trials);
- optimization_history.png: each trial's score and the best so far, against the trial number and
  against the trials' training time added up (as optuna-dashboard shows it);
- intermediate_values.png: every finished trial's objective epoch by epoch, pruned trials (search.pruning)
  drawn apart, so where the median rule stopped them shows;
- score_vs_size.png: each trial's score against its model's parameters, with the Pareto front
  (`tools.tradeoffplot`; where the models have a size rule).

Reads only the run folder's plain files (trials.csv, summary.json, tuner/trial_*/nnlab_trial.json,
spec.yaml and preprocessing.json for the sizes);
never imports TensorFlow. Each picture stays readable from 2 trials to hundreds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nnlab.errors import RunError
from nnlab.runs import files
from nnlab.runs.folder import RunFolder
from nnlab.runs.outputs import check_output
from nnlab.runs.records import TrialRecord, by_number, is_number
from nnlab.tools import tradeoffplot

TOP_CURVES = 6  # trials drawn in learning_curves.png
MIN_TRIALS_FOR_IMPORTANCE = 8


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: no display needed
    import matplotlib.pyplot as plt

    return plt


def plot_run(run_dir: str | Path, output: str | Path | None = None) -> list[Path]:
    """Draw every picture of a run into `output` (default RUN/plots/); return the files written."""
    folder = RunFolder(run_dir).require()
    contents = folder.load()
    done = contents.ranked
    if not done:
        raise RunError(f"{folder.path} has no completed trial to plot")
    out = Path(output) if output else folder.path / "plots"
    check_output(out, own=[folder.path / "plots"])
    out.mkdir(parents=True, exist_ok=True)
    summary = contents.summary
    objective = summary.objective or "score"
    hp_names = [h for h in summary.hyperparameter_names or []
                if any(r.hyperparameters.get(h) is not None for r in done)]
    log_names = _log_searched(folder)
    traded = tradeoffplot.draw(folder, done, objective, summary.direction, out / "score_vs_size.png", _pyplot(), _save)
    return [
        _learning_curves(folder, done, objective, out / "learning_curves.png"),
        _objective_vs_hyperparameters(done, hp_names, objective, log_names, out / "objective_vs_hyperparameters.png"),
        _parallel_coordinates(done, hp_names, objective, summary.direction == "max", log_names,
                              out / "parallel_coordinates.png"),
        _importance(done, hp_names, objective, log_names, out / "importance.png"),
        _optimization_history(contents.records, objective, summary.direction, out / "optimization_history.png"),
        _intermediate_values(folder, contents.records, objective, out / "intermediate_values.png"),
        *([traded] if traded else []),
    ]


def _optimization_history(records: list[TrialRecord], objective: str, direction: str, path: Path) -> Path:
    plt = _pyplot()
    ordered = [r for r in by_number(records) if r.finished]
    clock = np.cumsum([r.seconds or 0.0 for r in ordered]) / 60
    scored = [(i, r) for i, r in enumerate(ordered) if r.status in ("completed", "pruned") and is_number(r.score)]
    best, best_curve = None, []
    for r in ordered:
        if r.completed and (best is None or (r.score < best if direction == "min" else r.score > best)):
            best = r.score
        best_curve.append(np.nan if best is None else best)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), squeeze=False)
    for ax, x, label in ((axes[0][0], np.array([r.number for r in ordered]), "trial number"),
                         (axes[0][1], clock, "minutes of training (the trials' times added up)")):
        for status, colour in (("completed", "tab:blue"), ("pruned", "tab:orange")):
            points = [(x[i], r.score) for i, r in scored if r.status == status]
            if points:
                ax.scatter(*zip(*points), s=18, color=colour, label=f"{status} trial", zorder=3)
        ax.step(x, best_curve, where="post", color="tab:red", label="best so far")
        ax.set_xlabel(label)
        ax.set_ylabel(objective)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"Optimization history: {objective} ({direction})")
    return _save(fig, path)


def _intermediate_values(folder: RunFolder, records: list[TrialRecord], objective: str, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    drawn = {"completed": 0, "pruned": 0}
    for record in by_number(records):
        if record.status not in drawn:
            continue
        histories = folder.history(record.trial_id)
        values = histories[0].get(objective) if histories else None
        if not values:
            continue
        pruned = record.status == "pruned"
        ax.plot(np.arange(1, len(values) + 1), [np.nan if v is None else v for v in values],
                color="tab:orange" if pruned else "tab:blue", alpha=0.8 if pruned else 0.45, lw=1,
                marker="x" if pruned else None, markevery=[len(values) - 1] if pruned else None,
                label=None if drawn[record.status] else f"{record.status} trials")
        drawn[record.status] += 1
    ax.set_xlabel("epoch")
    ax.set_ylabel(objective)
    ax.grid(alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if any(drawn.values()):
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no per-epoch history was recorded for these trials", ha="center", va="center",
                transform=ax.transAxes)
    fig.suptitle(f"Intermediate values: {objective} per epoch of every trial (x: where a trial was pruned)")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    try:
        files.write_through(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight"),
                            path.with_name(f".{path.name}.tmp.png"))
    finally:
        _pyplot().close(fig)
    return path


def _label(record: TrialRecord) -> str:
    return f"trial {record.trial_id} ({record.score:.4g})"


def _learning_curves(folder: RunFolder, done: list[TrialRecord], objective: str, path: Path) -> Path:
    plt = _pyplot()
    top = done[:TOP_CURVES]
    metric = objective[4:] if objective.startswith("val_") else objective
    panels = ["loss"] + ([metric] if metric != "loss" else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    colours = plt.cm.tab10(np.arange(len(top)) % 10)
    drawn = 0
    for record, colour in zip(top, colours):
        histories = folder.history(record.trial_id)
        if not histories:
            continue
        history = histories[0]  # the first execution's
        drawn += 1
        for ax, name in zip(axes[0], panels):
            for key, style in ((name, "-"), (f"val_{name}", "--")):
                values = history.get(key)
                if values:
                    epochs = np.arange(1, len(values) + 1)
                    ax.plot(epochs, [np.nan if v is None else v for v in values], style, color=colour,
                            label=_label(record) if style == "-" and ax is axes[0][0] else None)
    for ax, name in zip(axes[0], panels):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(f"{name}: training (solid), validation (dashed)")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if drawn:
        axes[0][0].legend(fontsize=8, title=f"best {min(len(top), TOP_CURVES)} by {objective}")
    else:
        axes[0][0].text(0.5, 0.5, "no per-epoch history was recorded for these trials",
                        ha="center", va="center", transform=axes[0][0].transAxes)
    fig.suptitle(f"Learning curves of the best {len(top)} trial(s)")
    return _save(fig, path)


def _log_searched(folder: RunFolder) -> set | None:
    """Names of the spec's `{float: [...], log: true}` spaces, read from the run's spec copy."""
    import yaml

    try:
        spec = yaml.safe_load(folder.spec_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    names: set = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict) and value.get("log") is True:
                    names.add(key)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(spec)
    return names


def _is_numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values if v is not None)


def _log_scale(name: str, values: list, log_names: set | None) -> bool:
    """As the spec searched it (`log_names`); without the spec, when positive values span three decades."""
    if log_names is not None:
        return name in log_names
    positive = [v for v in values if v is not None and v > 0]
    return len(positive) == len([v for v in values if v is not None]) and len(positive) > 1 and \
        max(positive) / min(positive) >= 1000


MAX_LEVELS = 6  # numeric hyperparameters with this many distinct values or fewer are drawn as levels


def _objective_vs_hyperparameters(done: list[TrialRecord], hp_names: list[str], objective: str, log_names: set | None,
                                  path: Path) -> Path:
    plt = _pyplot()
    n = max(len(hp_names), 1)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    scores = [r.score for r in done]
    alpha = 0.85 if len(done) < 50 else 0.45
    for ax, name in zip(axes.flat, hp_names):
        values = [r.hyperparameters.get(name) for r in done]
        pairs = [(v, s) for v, s in zip(values, scores) if v is not None]
        if _is_numeric(values) and len({v for v, _ in pairs}) > MAX_LEVELS:
            ax.scatter([v for v, _ in pairs], [s for _, s in pairs], s=22, alpha=alpha)
            if _log_scale(name, values, log_names):
                ax.set_xscale("log")
        else:  # categories (or two values): one column of points each, jittered
            levels = sorted({str(v) for v, _ in pairs}, key=_natural)
            rng = np.random.default_rng(0)
            for i, level in enumerate(levels):
                ys = [s for v, s in pairs if str(v) == level]
                ax.scatter(i + rng.uniform(-0.12, 0.12, len(ys)), ys, s=22, alpha=alpha)
            ax.set_xticks(range(len(levels)), levels, rotation=30 if len(levels) > 4 else 0)
        ax.set_xlabel(name)
        ax.set_ylabel(objective)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(hp_names):]:
        ax.axis("off")
    if not hp_names:
        axes[0][0].text(0.5, 0.5, "nothing was searched: every value is fixed", ha="center", va="center")
    fig.suptitle(f"{objective} against each hyperparameter ({len(done)} completed trials)")
    fig.tight_layout()
    return _save(fig, path)


def _natural(text: str):
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def _encode(done: list[TrialRecord], hp_names: list[str], log_names: set | None) -> tuple[np.ndarray, dict]:
    """Hyperparameters as numbers: numeric ones as they are (log10 where they span decades),
    categories by their sorted position; with tick labels per axis for the categories."""
    columns, ticks = [], {}
    for name in hp_names:
        values = [r.hyperparameters.get(name) for r in done]
        if _is_numeric(values) and len({v for v in values if v is not None}) > 1:
            filled = [np.nan if v is None else float(v) for v in values]
            column = np.log10(filled) if _log_scale(name, values, log_names) else np.asarray(filled)
        else:
            levels = sorted({str(v) for v in values}, key=_natural)
            ticks[name] = levels
            column = np.asarray([levels.index(str(v)) for v in values], float)
        columns.append(column)
    return (np.column_stack(columns) if columns else np.zeros((len(done), 0))), ticks


def _parallel_coordinates(done: list[TrialRecord], hp_names: list[str], objective: str, descending: bool,
                          log_names: set | None,
                          path: Path) -> Path:
    plt = _pyplot()
    x, ticks = _encode(done, hp_names, log_names)
    scores = np.asarray([r.score for r in done], float)
    data = np.column_stack([x, scores]) if len(hp_names) else scores[:, None]
    names = hp_names + [objective]
    low, high = np.nanmin(data, axis=0), np.nanmax(data, axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = (data - low) / span
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(names)), 4.8))
    cmap = plt.cm.viridis if descending else plt.cm.viridis_r  # bright = better either way
    norm = plt.Normalize(scores.min(), scores.max() if scores.max() > scores.min() else scores.min() + 1)
    order = np.argsort(scores if descending else -scores)  # the best drawn last, on top
    alpha = 0.9 if len(done) < 30 else max(0.15, 30 / len(done))
    for i in order:
        ax.plot(range(len(names)), scaled[i], color=cmap(norm(scores[i])), alpha=alpha, linewidth=1.4)
    for j, name in enumerate(names):
        ax.axvline(j, color="grey", linewidth=0.8)
        if name in ticks:
            levels = ticks[name]
            for k, level in enumerate(levels):
                ax.text(j + 0.03, (k - low[j]) / span[j], level, fontsize=7, va="center")
        else:
            shown_low, shown_high = low[j], high[j]
            if name != objective and name in hp_names and _log_scale(
                    name, [r.hyperparameters.get(name) for r in done], log_names):
                shown_low, shown_high = 10 ** shown_low, 10 ** shown_high
            ax.text(j + 0.03, 0, f"{shown_low:.3g}", fontsize=7, va="bottom")
            ax.text(j + 0.03, 1, f"{shown_high:.3g}", fontsize=7, va="top")
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(names) - 0.6)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, label=objective)
    ax.set_title(f"All {len(done)} completed trials, coloured by {objective} (bright: better)")
    return _save(fig, path)


def importance(done: list[TrialRecord], hp_names: list[str], seed: int = 0,
               log_names: set | None = None) -> tuple[dict, float] | None:
    """How much each hyperparameter explains the score: permutation importance of a random forest
    that predicts the score from the hyperparameters, measured on trials the forest was not fitted
    on (5-fold cross-validation), with the forest's cross-validated R². None with too few trials."""
    if len(done) < MIN_TRIALS_FOR_IMPORTANCE or not hp_names:
        return None
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold

    x, _ = _encode(done, hp_names, log_names)
    x = np.where(np.isnan(x), np.nanmin(x, axis=0) - 1, x)  # inactive values as their own level
    y = np.asarray([r.score for r in done], float)
    folds = KFold(n_splits=min(5, len(done) // 2), shuffle=True, random_state=seed)
    drops, predicted = [], np.zeros_like(y)
    for train, test in folds.split(x):
        forest = RandomForestRegressor(n_estimators=100, min_samples_leaf=2, random_state=seed).fit(x[train], y[train])
        predicted[test] = forest.predict(x[test])
        drops.append(permutation_importance(forest, x[test], y[test], n_repeats=10, random_state=seed)
                     .importances_mean)
    return dict(zip(hp_names, np.mean(drops, axis=0).tolist())), float(r2_score(y, predicted))


def _importance(done: list[TrialRecord], hp_names: list[str], objective: str, log_names: set | None,
                path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.5 * max(len(hp_names), 3) + 1.8))
    found = importance(done, hp_names, log_names=log_names)
    how = (f"Permutation importance of a random forest that predicts {objective} from the hyperparameters "
           f"of {len(done)} completed trials:\nhow much its R² on trials it was not fitted on (5-fold "
           "cross-validation) drops when one hyperparameter's values are shuffled.")
    if found is None:
        reason = ("nothing was searched" if not hp_names else
                  f"{len(done)} completed trial(s): too few to estimate (needs {MIN_TRIALS_FOR_IMPORTANCE})")
        ax.text(0.5, 0.5, f"Hyperparameter importance not estimated:\n{reason}", ha="center", va="center")
        ax.axis("off")
    else:
        scores, r2 = found
        names = sorted(scores, key=scores.get)
        ax.barh(names, [scores[n] for n in names], color="tab:blue")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel("drop in held-out R² when shuffled")
        ax.grid(axis="x", alpha=0.3)
        how += f" The forest's cross-validated R² is {r2:.2f}" + (
            ": the hyperparameters explain little of the score, so read these with care." if r2 < 0.3 else ".")
    ax.set_title("Hyperparameter importance")
    fig.text(0.01, -0.02, how, fontsize=7.5, va="top", wrap=True)
    return _save(fig, path)
