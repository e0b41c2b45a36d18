"""The pictures of `nnlab explain` and of a two-class `evaluate`: importance bars with their spread,
partial dependence with individual curves, the precision–recall curve, Grad-CAM overlays and the most
confused classes. Drawn with matplotlib's headless backend, saved as `plots._save` saves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnlab.tools.plots import _pyplot, _save

ICE_LINES = 50  # individual curves drawn (a seeded sample of them)


def importance_picture(found, path: Path) -> Path:
    """One panel per target: each column's mean drop as a bar, its spread over the repeats as a line."""
    plt = _pyplot()
    shown = [f.columns[:25] for f in found]
    height = max(len(s) for s in shown)
    fig, axes = plt.subplots(1, len(found), figsize=(7 * len(found), 1.2 + 0.32 * height), squeeze=False)
    for ax, one, columns in zip(axes[0], found, shown):
        names = [c.column for c in columns][::-1]
        means = [c.mean for c in columns][::-1]
        stds = [c.std for c in columns][::-1]
        ax.barh(names, means, xerr=stds, color="#2176ae", ecolor="#1d232a", capsize=3)
        ax.axvline(0, color="#5b6772", linewidth=0.8)
        change = "drop" if one.metric.better == "higher" else "rise"
        ax.set_xlabel(f"{change} in {one.metric.name} when the column is shuffled (mean ± std of {one.repeats})")
        title = f"{one.metric.name} {one.score:.4g} on {one.rows} rows"
        ax.set_title(f"{one.target}: {title}" if one.target else title)
    fig.suptitle("Which inputs the model leans on (permutation importance)")
    return _save(fig, path)


def dependence_picture(curves, path: Path, seed: int = 0) -> Path:
    """One panel per output: the mean prediction along the column (thick), each row's curve (thin); a
    column of categories as bars with each category's row count."""
    plt = _pyplot()
    panels = [(d, i) for d in curves for i in range(len(d.outputs))]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (one, i) in zip(axes[0], panels):
        if one.kind == "category":
            ax.bar([str(g) for g in one.grid], one.average[i], color="#2176ae")
            for x, (value, count) in enumerate(zip(one.average[i], one.counts)):
                ax.annotate(f"{count} rows", (x, value), ha="center", va="bottom", fontsize=8)
            ax.tick_params(axis="x", rotation=30)
        else:
            rows = one.individual[i]
            picked = np.random.default_rng(seed).choice(len(rows), min(ICE_LINES, len(rows)), replace=False)
            for row in rows[picked]:
                ax.plot(one.grid, row, color="#9bb7cf", linewidth=0.6, alpha=0.6)
            ax.plot(one.grid, one.average[i], color="#1d232a", linewidth=2.4, label="mean (partial dependence)")
            ax.legend(fontsize=8)
        ax.set_xlabel(one.column)
        ax.set_ylabel(one.outputs[i])
        if one.target:
            ax.set_title(f"target {one.target}")
    fig.suptitle(f"How the prediction moves with {curves[0].column}")
    return _save(fig, path)


def curve_picture(section: dict, path: Path) -> Path:
    """The precision–recall curve, with the threshold in use and the chosen one marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    curve = section["curve"]
    ax.plot(curve["recall"], curve["precision"], color="#2176ae",
            label=f"average precision {curve['average_precision']:.3f}")
    for key, marker in (("in_use", "o"), ("chosen", "s")):
        if key in section:
            at = section[key]
            ax.plot([at["recall"]], [at["precision"]], marker, markersize=9, label=at["how"])
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(f"Precision–recall of {section['positive_class']!r}")
    return _save(fig, path)


def _shown(image: np.ndarray) -> np.ndarray:
    """An image as matplotlib draws it: 0–1, grey for one channel."""
    image = np.asarray(image, np.float32)
    low, high = float(image.min()), float(image.max())
    image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return image[..., 0] if image.shape[-1] == 1 else image


def overlay_picture(image: np.ndarray, heat: np.ndarray, title: str, path: Path) -> Path:
    """The image, and the image with its heat map over it."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.5))
    shown = _shown(image)
    cmap = "gray" if shown.ndim == 2 else None
    axes[0].imshow(shown, cmap=cmap)
    axes[1].imshow(shown, cmap=cmap)
    axes[1].imshow(heat, cmap="jet", alpha=0.45, vmin=0, vmax=1)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def confused_picture(pairs: list[dict], images: np.ndarray, path: Path) -> Path:
    """One row per confused pair (true → predicted, how often), with example images of it."""
    plt = _pyplot()
    wide = max(len(p["examples"]) for p in pairs)
    fig, axes = plt.subplots(len(pairs), wide, figsize=(2.1 * wide, 2.3 * len(pairs)), squeeze=False)
    for row, pair in zip(axes, pairs):
        for ax in row:
            ax.axis("off")
        for ax, index in zip(row, pair["examples"]):
            shown = _shown(images[index])
            ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
        row[0].set_title(f"{pair['true']} → {pair['predicted']} ({pair['count']}×)", fontsize=9, loc="left")
    fig.suptitle("The most confused classes on the validation rows (true → predicted)")
    return _save(fig, path)
