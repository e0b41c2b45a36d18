"""The bad-input corpus: every case through the CLI (`nnlab run`), with an existing run folder beside
it. Each must give exit code 2, one message that names the problem, no traceback, and leave every
existing run folder exactly as it was. None of them imports TensorFlow (all fail before training)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app

runner = CliRunner()
OK_DATA = "data: {source: 'sklearn:iris'}\n"
OK_MODEL = "model: {kind: mlp}\n"
IRIS = OK_DATA + OK_MODEL


def spec(*lines: str) -> str:
    return "".join(line + "\n" for line in lines)


def png_folder(root: Path, classes=("a", "b"), n=3, corrupt=False) -> None:
    from PIL import Image

    for cls in classes:
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            if corrupt:
                (root / cls / f"{i}.png").write_bytes(b"\x89PNG broken")
            else:
                Image.new("RGB", (8, 8), (i * 40, 10, 10)).save(root / cls / f"{i}.png")


def npz(path: Path, **arrays) -> None:
    np.savez(path, **arrays)


CSV_OK = "x,z,y\n" + "".join(f"{i},{i % 3},{'a' if i % 2 else 'b'}\n" for i in range(20))
CSV_SPEC = "data: {source: csv, path: d.csv, target: y}\n" + OK_MODEL

# (id, spec text, extra files {name: text | bytes | callable(path)}, extra CLI args, expected fragment)
CASES = [
    # ---- the YAML itself
    ("yaml-unclosed", "data: {source: csv\nmodel: [\n", {}, [], "not valid YAML"),
    ("yaml-tabs", "data:\n\tsource: csv\n", {}, [], "tabs"),
    ("yaml-python-object", "data: !!python/object/apply:os.system ['true']\n" + OK_MODEL, {}, [], "not allowed"),
    ("yaml-python-name", "data: !!python/name:os.system ''\n" + OK_MODEL, {}, [], "not allowed"),
    ("yaml-duplicate-key", IRIS + "model: {kind: cnn}\n", {}, [], "appears twice"),
    ("yaml-empty", "", {}, [], "empty"),
    ("yaml-list", "- data\n- model\n", {}, [], "mapping"),
    ("yaml-scalar", "hello\n", {}, [], "mapping"),
    ("yaml-not-utf8", b"data: \xff\xfe\x00bad\n", {}, [], "Cannot read spec"),
    # ---- top level
    ("top-misspelled", OK_DATA + "modle: {kind: mlp}\n", {}, [], "did you mean `model`"),
    ("top-missing-data", OK_MODEL, {}, [], "`data` is required"),
    ("top-missing-model", OK_DATA, {}, [], "`model` is required"),
    ("top-name-slash", "name: a/b\n" + IRIS, {}, [], "names a folder"),
    ("top-seed-negative", "seed: -1\n" + IRIS, {}, [], "seed"),
    # ---- data
    ("data-not-mapping", "data: csv\n" + OK_MODEL, {}, [], "expected a section"),
    ("data-source-unknown", "data: {source: cvs}\n" + OK_MODEL, {}, [], "did you mean `csv`"),
    ("data-source-missing", "data: {path: x.csv}\n" + OK_MODEL, {}, [], "data.source` is missing"),
    ("data-sklearn-unknown", "data: {source: 'sklearn:irs'}\n" + OK_MODEL, {}, [], "did you mean `iris`"),
    ("data-keras-unknown", "data: {source: 'keras:mnsit'}\n" + OK_MODEL, {}, [], "did you mean `mnist`"),
    ("csv-no-path", "data: {source: csv, target: y}\n" + OK_MODEL, {}, [], "data.path"),
    ("csv-no-target", "data: {source: csv, path: d.csv}\n" + OK_MODEL, {}, [], "data.target"),
    ("csv-image-key", "data: {source: csv, path: d.csv, target: y, image_size: [8, 8]}\n" + OK_MODEL, {}, [],
     "unknown key `image_size`"),
    ("split-zero", "data: {source: 'sklearn:iris', validation_split: 0}\n" + OK_MODEL, {}, [], "validation_split"),
    ("split-over-one", "data: {source: 'sklearn:iris', validation_split: 1.5}\n" + OK_MODEL, {}, [],
     "validation_split"),
    ("split-text", "data: {source: 'sklearn:iris', validation_split: lots}\n" + OK_MODEL, {}, [], "'lots'"),
    ("image-size-absurd", "data: {source: images, path: p, image_size: [100000, 64]}\nmodel: {kind: cnn}\n", {}, [],
     "data.image_size"),
    ("image-size-one-number", "data: {source: images, path: p, image_size: [64]}\nmodel: {kind: cnn}\n", {}, [],
     "data.image_size"),
    ("color-mode-cmyk", "data: {source: images, path: p, color_mode: cmyk}\nmodel: {kind: cnn}\n", {}, [],
     "data.color_mode"),
    # ---- model
    ("kind-unknown", OK_DATA + "model: {kind: mpl}\n", {}, [], "did you mean `mlp`"),
    ("kind-missing", OK_DATA + "model: {layers: 2}\n", {}, [], "model.kind` is missing"),
    ("mlp-unknown-key", OK_DATA + "model: {kind: mlp, unitz: 3}\n", {}, [], "did you mean `units`"),
    ("layers-zero", OK_DATA + "model: {kind: mlp, layers: 0}\n", {}, [], "model.layers"),
    ("layers-negative", OK_DATA + "model: {kind: mlp, layers: -1}\n", {}, [], "model.layers"),
    ("units-text", OK_DATA + "model: {kind: mlp, units: many}\n", {}, [], "'many'"),
    ("units-list", OK_DATA + "model: {kind: mlp, units: [32, 64]}\n", {}, [], "{choice: [32, 64]}"),
    ("range-reversed", OK_DATA + "model: {kind: mlp, units: {int: [64, 8]}}\n", {}, [], "reversed"),
    ("range-single", OK_DATA + "model: {kind: mlp, units: {int: [8, 8]}}\n", {}, [], "single value"),
    ("range-one-bound", OK_DATA + "model: {kind: mlp, units: {int: [8]}}\n", {}, [], "[min, max]"),
    ("choice-empty", OK_DATA + "model: {kind: mlp, activation: {choice: []}}\n", {}, [], "non-empty"),
    ("choice-duplicate", OK_DATA + "model: {kind: mlp, units: {choice: [8, 8]}}\n", {}, [], "twice"),
    ("step-zero", OK_DATA + "model: {kind: mlp, units: {int: [8, 64], step: 0}}\n", {}, [], "`step`"),
    ("step-negative", OK_DATA + "model: {kind: mlp, dropout: {float: [0.0, 0.5], step: -0.1}}\n", {}, [], "`step`"),
    ("step-too-big", OK_DATA + "model: {kind: mlp, dropout: {float: [0.0, 0.2], step: 0.5}}\n", {}, [], "larger"),
    ("log-zero-bound", OK_DATA + "model: {kind: mlp, l2: {float: [0.0, 0.1], log: true}}\n", {}, [], "log-scale"),
    ("log-and-step", OK_DATA + "model: {kind: mlp, l2: {float: [0.1, 0.2], log: true, step: 0.1}}\n", {}, [],
     "not both"),
    ("space-unknown-key", OK_DATA + "model: {kind: mlp, units: {int: [8, 16], sep: 2}}\n", {}, [],
     "did you mean `step`"),
    ("space-two-kinds", OK_DATA + "model: {kind: mlp, units: {int: [8, 16], choice: [8]}}\n", {}, [],
     "exactly one"),
    ("activation-unknown", OK_DATA + "model: {kind: mlp, activation: rleu}\n", {}, [], "did you mean `relu`"),
    ("dropout-one", OK_DATA + "model: {kind: mlp, dropout: 1.0}\n", {}, [], "model.dropout"),
    ("dropout-int-range", OK_DATA + "model: {kind: mlp, dropout: {int: [0, 1]}}\n", {}, [], "{float:"),
    ("layers-float-range", OK_DATA + "model: {kind: mlp, layers: {float: [1, 3]}}\n", {}, [], "{int:"),
    ("batchnorm-text", OK_DATA + "model: {kind: mlp, batch_norm: maybe}\n", {}, [], "true or false"),
    ("cnn-kernel-zero", "data: {source: 'sklearn:digits'}\nmodel: {kind: cnn, kernel_size: 0}\n", {}, [],
     "model.kernel_size"),
    ("cnn-flip-diagonal", "data: {source: 'sklearn:digits'}\nmodel: {kind: cnn, augment: {flip: diagonal}}\n",
     {}, [], "model.augment.flip"),
    ("cnn-pooling-unknown", "data: {source: 'sklearn:digits'}\nmodel: {kind: cnn, pooling: mean}\n", {}, [],
     "model.pooling"),
    # ---- train
    ("optimizer-unknown", IRIS + "train: {optimizer: adma}\n", {}, [], "did you mean `adam`"),
    ("lr-zero", IRIS + "train: {learning_rate: 0}\n", {}, [], "train.learning_rate"),
    ("lr-negative-range", IRIS + "train: {learning_rate: {float: [-0.1, 0.1]}}\n", {}, [], "> 0"),
    ("batch-zero", IRIS + "train: {batch_size: 0}\n", {}, [], "train.batch_size"),
    ("epochs-zero", IRIS + "train: {epochs: 0}\n", {}, [], "train.epochs"),
    ("epochs-text", IRIS + "train: {epochs: ten}\n", {}, [], "train.epochs"),
    ("loss-unknown", IRIS + "train: {loss: mse2}\n", {}, [], "did you mean `mse`"),
    ("loss-wrong-task", "data: {source: 'sklearn:diabetes'}\n" + OK_MODEL + "train: {loss: crossentropy}\n", {}, [],
     "does not fit a regression task"),
    ("loss-mse-classes", IRIS + "train: {loss: mse}\n", {}, [], "does not fit a classification task"),
    ("loss-searched-ranked-by-loss", "data: {source: 'sklearn:diabetes'}\n" + OK_MODEL
     + "train: {loss: {choice: [mse, huber]}}\n", {}, [], "cannot rank them; use val_mae"),
    ("loss-searched-unknown", IRIS + "train: {loss: {choice: [mse, hubber]}}\n", {}, [], "huber"),
    ("transform-classes", "data: {source: 'sklearn:iris', target_transform: log}\n" + OK_MODEL, {}, [],
     "applies to a regression target"),
    ("transform-unknown", "data: {source: 'sklearn:diabetes', target_transform: log2}\n" + OK_MODEL, {}, [],
     "target_transform"),
    ("transform-log-negative", "data: {source: npz, path: a.npz, target_transform: log}\n" + OK_MODEL,
     {"a.npz": lambda path: npz(path, x=np.ones((30, 2)), y=np.linspace(-2.5, 3, 30))}, [], "goes down to -2.5"),
    ("transform-auto-images", "data: {source: npz, path: a.npz, target_transform: auto}\n" + OK_MODEL,
     {"a.npz": lambda path: npz(path, x=np.ones((30, 8, 8, 1)), y=np.linspace(0, 3, 30))}, [], "for images choose"),
    ("metric-unknown", IRIS + "train: {metrics: [f2]}\n", {}, [], "unknown metric 'f2'"),
    ("metric-wrong-task", IRIS + "train: {metrics: [r2]}\n", {}, [], "does not fit a classification task"),
    ("patience-zero", IRIS + "train: {early_stopping: {patience: 0}}\n", {}, [], "patience"),
    ("monitor-unknown", IRIS + "train: {early_stopping: {patience: 2, monitor: val_acc}}\n", {}, [],
     "did you mean `val_accuracy`"),
    # ---- search
    ("tuner-unknown", IRIS + "search: {tuner: randm}\n", {}, [], "did you mean `random`"),
    ("objective-misspelled", IRIS + "search: {objective: val_acuracy}\n", {}, [], "did you mean `val_accuracy`"),
    ("objective-wrong-task", "data: {source: 'sklearn:diabetes'}\n" + OK_MODEL + "search: {objective: val_accuracy}\n",
     {}, [], "not computed for this regression task"),
    ("objective-f1-not-asked", IRIS + "search: {objective: val_f1}\n", {}, [], "not computed"),
    ("objective-no-direction", IRIS + "search: {objective: {name: val_loss}}\n", {}, [], "direction"),
    ("objective-direction-up", IRIS + "search: {objective: {name: val_loss, direction: up}}\n", {}, [], "'up'"),
    ("max-trials-zero", IRIS + "search: {max_trials: 0}\n", {}, [], "search.max_trials"),
    ("max-epochs-not-hyperband", IRIS + "search: {max_epochs: 5}\n", {}, [], "hyperband"),
    ("pruning-with-hyperband", IRIS + "search: {tuner: hyperband, pruning: median}\n", {}, [],
     "does not combine with tuner: hyperband"),
    ("grid-no-step", IRIS + "train: {learning_rate: {float: [0.001, 0.1]}}\nsearch: {tuner: grid}\n", {}, [],
     "needs a `step`"),
    ("keep-unknown", IRIS + "search: {keep: some}\n", {}, [], "search.keep"),
    # ---- the command line
    ("set-no-equals", IRIS, {}, ["--set", "search.max_trials"], "KEY=VALUE"),
    ("set-bad-value", IRIS, {}, ["--set", "search.max_trials=[1"], "not valid YAML"),
    ("set-wrong-type", IRIS, {}, ["--set", "train.epochs=many"], "--set train.epochs=many"),
    ("name-bad", IRIS, {}, ["--name", "../escape"], "--name"),
    # ---- CSV data
    ("csv-missing", CSV_SPEC, {}, [], "not found"),
    ("csv-is-folder", CSV_SPEC, {"d.csv": lambda p: p.mkdir()}, [], "is a folder"),
    ("csv-zero-bytes", CSV_SPEC, {"d.csv": ""}, [], "empty (0 bytes)"),
    ("csv-header-only", CSV_SPEC, {"d.csv": "x,z,y\n"}, [], "header but no rows"),
    ("csv-target-absent", CSV_SPEC.replace("target: y", "target: label"), {"d.csv": CSV_OK}, [], "'label' is not in"),
    ("csv-target-empty", CSV_SPEC, {"d.csv": "x,y\n1,\n2,\n3,\n"}, [], "empty in every row"),
    ("csv-single-class", CSV_SPEC, {"d.csv": "x,y\n" + "".join(f"{i},a\n" for i in range(9))}, [], "single class"),
    ("csv-drop-absent", CSV_SPEC.replace("target: y", "target: y, drop: [nme]"), {"d.csv": CSV_OK}, [],
     "data.drop"),
    ("csv-categorical-absent", CSV_SPEC.replace("target: y", "target: y, categorical: [w]"), {"d.csv": CSV_OK}, [],
     "data.categorical"),
    ("csv-target-dropped", CSV_SPEC.replace("target: y", "target: y, drop: [y]"), {"d.csv": CSV_OK}, [],
     "lists the target"),
    ("csv-only-target", CSV_SPEC, {"d.csv": "y\na\nb\na\nb\n"}, [], "no feature columns"),
    ("csv-cnn", CSV_SPEC.replace("kind: mlp", "kind: cnn"), {"d.csv": CSV_OK}, [], "cnn needs image data"),
    ("csv-regression-labels", CSV_SPEC.replace("target: y", "target: y, task: regression"), {"d.csv": CSV_OK}, [],
     "must be numeric"),
    # ---- images
    ("images-missing", "data: {source: images, path: pics}\nmodel: {kind: cnn}\n", {}, [], "not found"),
    ("images-loose", "data: {source: images, path: pics}\nmodel: {kind: cnn}\n",
     {"pics": lambda p: (p.mkdir(), (p / "a.png").write_bytes(b"x"))}, [], "subfolder"),
    ("images-one-class", "data: {source: images, path: pics}\nmodel: {kind: cnn}\n",
     {"pics": lambda p: png_folder(p, classes=("only",))}, [], "one class subfolder"),
    ("images-empty-class", "data: {source: images, path: pics}\nmodel: {kind: cnn}\n",
     {"pics": lambda p: (png_folder(p), (p / "c").mkdir())}, [], "holds no images"),
    ("images-all-corrupt", "data: {source: images, path: pics}\nmodel: {kind: cnn}\n",
     {"pics": lambda p: png_folder(p, corrupt=True)}, [], "could be decoded"),
    ("images-path-is-file", "data: {source: images, path: pics}\nmodel: {kind: cnn}\n", {"pics": "x"}, [],
     "is not a folder"),
    ("images-val-unknown-class", "data: {source: images, path: pics, validation_path: val}\nmodel: {kind: cnn}\n",
     {"pics": lambda p: png_folder(p), "val": lambda p: png_folder(p, classes=("a", "zzz"))}, [],
     "classes the training folder lacks"),
    ("cnn-on-iris", "data: {source: 'sklearn:iris'}\nmodel: {kind: cnn}\n", {}, [], "cnn needs image data"),
    # ---- npz
    ("npz-missing", "data: {source: npz, path: a.npz}\n" + OK_MODEL, {}, [], "not found"),
    ("npz-garbage", "data: {source: npz, path: a.npz}\n" + OK_MODEL, {"a.npz": b"not a zip"}, [], "Cannot read"),
    ("npz-no-xy", "data: {source: npz, path: a.npz}\n" + OK_MODEL,
     {"a.npz": lambda p: npz(p, features=np.zeros((4, 2)))}, [], "arrays named x and y"),
    ("npz-half-validation", "data: {source: npz, path: a.npz}\n" + OK_MODEL,
     {"a.npz": lambda p: npz(p, x=np.zeros((6, 2)), y=np.arange(6) % 2, x_val=np.zeros((2, 2)))}, [],
     "only one of x_val and y_val"),
    ("npz-length-mismatch", "data: {source: npz, path: a.npz}\n" + OK_MODEL,
     {"a.npz": lambda p: npz(p, x=np.zeros((6, 2)), y=np.arange(5) % 2)}, [], "one value per row"),
    ("npz-nan", "data: {source: npz, path: a.npz}\n" + OK_MODEL,
     {"a.npz": lambda p: npz(p, x=np.full((6, 2), np.nan), y=np.arange(6) % 2)}, [], "NaN"),
]


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_corpus_is_large_and_ids_are_unique():
    ids = [case[0] for case in CASES]
    assert len(ids) >= 60 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("case_id, text, files, args, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input(tmp_path, monkeypatch, case_id, text, files, args, expected, make_run):
    runs = tmp_path / "runs"
    make_run(runs, "existing", [0.3, 0.2])
    before = snapshot(runs)
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_bytes(text.encode() if isinstance(text, str) else text)
    for name, content in files.items():
        target = tmp_path / name
        if callable(content):
            content(target)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", str(spec_path), "--runs-dir", str(runs), *args])
    output = result.output.replace(str(tmp_path), "<tmp>")  # match the message, never the folder's name
    assert result.exit_code == 2, f"exit {result.exit_code}: {output}\n{result.exception!r}"
    assert "Traceback" not in output
    assert output.startswith("error: ") and output.count("error: ") == 1, output
    assert expected in output, f"{expected!r} not in:\n{output}"
    assert snapshot(runs) == before, "an existing run folder changed"
    assert sorted(p.name for p in runs.iterdir()) == ["existing"], "a run folder was created"
