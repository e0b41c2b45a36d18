"""score_vs_size.png (`nnlab plot`, the report): every completed trial's score against its model's
parameter count, the Pareto front (`runs.tradeoff`) drawn through the trials no other beats on both, and
search.constraints' max_params where set. Drawn when the run's models have a size rule."""

from __future__ import annotations

from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import TrialRecord
from nnlab.runs.tradeoff import front, trial_sizes


def draw(folder: RunFolder, done: list[TrialRecord], objective: str, direction: str, path: Path, plt, save):
    """The picture, or None where no trial's size can be worked out."""
    try:
        sizes = trial_sizes(folder.path, done)
    except NnlabError:
        return None
    points = {r.trial_id: (r.score, float(sizes[r.trial_id].parameters)) for r in done if r.trial_id in sizes}
    if not points:
        return None
    on = sorted((points[i] for i in front(points, direction)), key=lambda p: p[1])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.scatter([c for _, c in points.values()], [s for s, _ in points.values()], s=18, color="tab:blue",
               alpha=0.6, label="completed trial", zorder=2)
    ax.plot([c for _, c in on], [s for s, _ in on], color="tab:red", marker="D", ms=5, lw=1.2,
            drawstyle="steps-post", label="Pareto front", zorder=3)
    limit = getattr(getattr(folder.spec().search, "constraints", None), "max_params", None)
    if limit:
        ax.axvline(limit, color="grey", ls="--", lw=1, label=f"max_params {limit:,}")
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel(objective)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(f"{objective} against model size: the front is the best score at each size or below")
    return save(fig, path)
