"""`nnlab explain RUN [DATA]`: the answers a write-up asks of a finished run, saved as pictures and one
JSON file in `--output` (default RUN/explain/, which `nnlab report` shows).

- A table or arrays run: permutation importance of every original column (importance.png) and partial
  dependence with individual curves of the top columns and of each `--feature` (dependence_COLUMN.png),
  on DATA (labelled) or on the run's validation rows (`tools.explain`).
- An image run (a CNN): Grad-CAM heat maps over each image of DATA (an image, a folder, a CSV listing
  images) or of the first validation images, beside the predicted class and its probability
  (gradcam_N_NAME.png), and the most confused classes of the validation rows with example images
  (confused.png).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.errors import DataError, NnlabError
from nnlab.runs import files
from nnlab.runs.outputs import check_output
from nnlab.tools import explain, explainplots
from nnlab.tools.apply import RunToApply, load_model, open_run
from nnlab.tools.evaluation import RunModel

IMAGES = 16  # heat maps drawn by default
PAIRS, EXAMPLES = 3, 4  # confused pairs shown, example images of each


@dataclass
class Explained:
    """What `explain_run` found and wrote."""

    output: Path
    rows: str  # which rows it was measured on
    importances: list = field(default_factory=list)  # explain.Importances, per target
    dependences: list = field(default_factory=list)  # explain.Dependence, per column and target
    images: list[dict] = field(default_factory=list)  # per image: id, predicted class, probability, file
    confused: list[dict] = field(default_factory=list)  # true, predicted, count
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_image_run(run: RunToApply) -> bool:
    return len(run.preparation.input_shape) == 3


def explain_run(run_dir, data=None, output=None, features=(), repeats: int = explain.REPEATS, top: int = 3,
                limit: int = IMAGES, trial: str | None = None, say: Callable[[str], None] = lambda _: None,
                model=None) -> Explained:
    """Explain the run's model (the best, or `trial`'s) and write the pictures into `output`."""
    run = open_run(run_dir)
    output = Path(output) if output is not None else run.folder.path / "explain"
    check_output(output, own=[run.folder.path / "explain"])
    if repeats < 1 or limit < 1:
        raise DataError("--repeats and --images are 1 or more")
    found = RunModel(run, model if model is not None else load_model(run, trial))
    result = Explained(output, "")
    output.mkdir(parents=True, exist_ok=True)
    _remove_earlier(output)
    if is_image_run(run):
        if features:
            raise DataError("--feature names a column of a table; this run reads images")
        _images(found, data, limit, result, say)
    else:
        _table(found, data, list(features), repeats, top, result, say)
    record = {"rows": result.rows, "importance": [i.to_json() for i in result.importances],
              "dependence": [d.to_json() for d in result.dependences], "images": result.images,
              "confused": result.confused, "notes": result.notes,
              "files": [p.name for p in result.files] + ["explain.json"]}
    files.write_atomic(output / "explain.json", json.dumps(record, indent=2) + "\n")
    result.files.append(output / "explain.json")
    return result


def _remove_earlier(output: Path) -> None:
    """The pictures an earlier `explain` wrote here (listed in its explain.json), so that none of them is
    taken for this one's; nothing else in the folder is touched."""
    try:
        earlier = json.loads((output / "explain.json").read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return
    for name in earlier if isinstance(earlier, list) else []:
        path = output / str(name)
        if path.parent == output and path.is_file() and path.suffix in (".png", ".json"):
            path.unlink()


def _rows(found: RunModel, data, labelled: bool):
    """(inputs, which rows they are): DATA read as the run reads new data, or the validation rows."""
    from nnlab.tools.inputs import read_inputs

    if data is not None:
        inputs = read_inputs(data, found.run.preparation, labelled=labelled)
        where = "the DataFrame" if hasattr(data, "columns") else Path(str(data)).name
        return inputs, f"{len(inputs.ids)} rows of {where}"
    inputs, _, note = found.validation()
    return inputs, note


def _table(found: RunModel, data, features: list[str], repeats: int, top: int, result: Explained, say) -> None:
    inputs, result.rows = _rows(found, data, labelled=True)
    prep, objective = found.run.preparation, found.run.summary.objective or "val_loss"
    say(f"permutation importance: {len(inputs.ids)} rows, {repeats} repeats per column")
    result.importances = explain.importance(found.outputs, prep, inputs.x, inputs.y, objective, repeats)
    result.files.append(explainplots.importance_picture(result.importances, result.output / "importance.png"))
    columns = list(dict.fromkeys([*explain.top_columns(result.importances, top), *features]))
    for column in columns:
        say(f"partial dependence: {column}")
        curves = explain.dependence(found.outputs, prep, inputs.x, column)
        result.dependences += curves
        name = f"dependence_{_safe(curves[0].column)}.png"
        result.files.append(explainplots.dependence_picture(curves, result.output / name))


def _images(found: RunModel, data, limit: int, result: Explained, say) -> None:
    from nnlab.engine.gradcam import heat_maps

    inputs, result.rows = _rows(found, data, labelled=False)
    keep = [i for i in range(len(inputs.ids)) if i not in inputs.unread][:limit]
    if len(keep) < len(inputs.ids) - len(inputs.unread):
        result.notes.append(f"heat maps of the first {len(keep)} of {len(inputs.ids)} images (--images to change)")
    x = inputs.x[keep]
    proba = found.outputs(x)[0]
    classes = proba.argmax(axis=1)
    say(f"Grad-CAM: {len(keep)} image(s)")
    maps = heat_maps(found.model, x, classes)
    names = [str(c) for c in found.run.preparation.class_names]
    truth = inputs.y[keep] if data is None and inputs.y is not None else None
    for n, (i, heat) in enumerate(zip(keep, maps)):
        title = f"{inputs.ids[i]}: {names[classes[n]]} ({proba[n, classes[n]]:.2f})"
        if truth is not None:
            title += f", truly {names[int(truth[n])]}"
        path = result.output / f"gradcam_{n + 1}_{_safe(Path(inputs.ids[i]).stem)}.png"
        result.files.append(explainplots.overlay_picture(x[n], heat, title, path))
        result.images.append({"id": inputs.ids[i], "predicted": names[classes[n]],
                              "probability": float(proba[n, classes[n]]), "file": path.name})
    _confused(found, names, result)


def _confused(found: RunModel, names: list[str], result: Explained) -> None:
    """The validation rows' most frequent mistakes (true → predicted), with example images."""
    try:
        inputs, outputs, _ = found.validation()
    except NnlabError as exc:
        result.notes.append(f"no confused classes: the run's validation rows cannot be read ({exc})")
        return
    truth, predicted = np.asarray(inputs.y), outputs[0].argmax(axis=1)
    wrong = truth != predicted
    pairs, counts = np.unique(np.stack([truth[wrong], predicted[wrong]], axis=1), axis=0, return_counts=True) \
        if wrong.any() else (np.zeros((0, 2), int), np.zeros(0, int))
    order = np.argsort(-counts, kind="stable")[:PAIRS]
    for t, p, count in zip(pairs[order, 0], pairs[order, 1], counts[order]):
        examples = np.flatnonzero((truth == t) & (predicted == p))[:EXAMPLES].tolist()
        result.confused.append({"true": names[int(t)], "predicted": names[int(p)], "count": int(count),
                                "examples": examples})
    if result.confused:
        result.files.append(explainplots.confused_picture(result.confused, inputs.x, result.output / "confused.png"))
    else:
        result.notes.append(f"no validation image was misclassified ({len(truth)} of them)")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_")[:60] or "column"


def explained_text(found: Explained) -> str:
    """What was found, as a person reads it: the importance table, the dependence in a line per column,
    the images' classes, the confused pairs and the files written."""
    lines = [f"on {found.rows}"]
    for one in found.importances:
        change = "drop" if one.metric.better == "higher" else "rise"
        lines.append((f"target {one.target}: " if one.target else "")
                     + f"{one.metric.name} {one.score:.4g}; its {change} when a column is shuffled "
                       f"(mean ± std of {one.repeats}):")
        width = max(len(c.column) for c in one.columns)
        lines += [f"  {c.column:<{width}}  {c.mean:>10.4g} ± {c.std:.2g}" for c in one.columns]
    for d in found.dependences:
        for i, name in enumerate(d.outputs):
            pairs = list(zip(d.grid, d.average[i]))
            ends = pairs if d.kind == "category" else [pairs[0], pairs[len(pairs) // 2], pairs[-1]]
            shown = ", ".join(f"{g if isinstance(g, str) else format(g, '.4g')}: {v:.4g}" for g, v in ends)
            lines.append(f"{name} as {d.column} varies" + (f" (target {d.target})" if d.target else "")
                         + f": {shown}")
    lines += [f"{image['id']}: {image['predicted']} ({image['probability']:.2f})" for image in found.images]
    lines += [f"confused: {p['true']} → {p['predicted']} {p['count']}×" for p in found.confused]
    lines.append(f"wrote {len(found.files)} file(s) to {found.output}")
    return "\n".join(lines) + "\n"
