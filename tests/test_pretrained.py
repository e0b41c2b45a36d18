"""model.kind: pretrained — a keras.applications base with a new head, tested offline: weights from a
file the test writes (the loading path for real), `none`, and `imagenet` when the download fails."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import nnlab
from nnlab.cli import app
from nnlab.errors import SpecError

runner = CliRunner()

SPEC = """
name: {name}
seed: 3
data: {{source: npz, path: digits.npz, validation_split: 0.5}}
model: {{kind: pretrained, base: MobileNetV3Small, weights: {weights}, trainable_layers: {layers}, head_epochs: 1,
        dense_units: 8, augment: {{flip: horizontal}}}}
train: {{epochs: 2, batch_size: 128, learning_rate: 0.01}}
search: {{max_trials: 1}}
"""


def write_digits(folder, rows: int = 160):
    """scikit-learn's 8×8 digits as 0–255 grey images in an .npz (a small, fast image set)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(folder / "digits.npz", x=(digits.images[:rows] * 16).clip(0, 255).astype(np.uint8),
             y=digits.target[:rows])


def test_the_spec_names_known_bases_and_resolves_a_weights_path(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(name="p", weights="w/base.weights.h5", layers=0))
    loaded = nnlab.load_spec(spec)
    assert loaded.model.weights == str(tmp_path / "w" / "base.weights.h5")
    assert nnlab.load_spec({"data": {"source": "sklearn:digits"},
                            "model": {"kind": "pretrained", "base": "ResNet50", "weights": "ImageNet"}}).model.weights \
        == "imagenet"
    with pytest.raises(SpecError, match="MobileNetV3Small"):  # a misspelt base: the names it takes
        nnlab.load_spec({"data": {"source": "sklearn:digits"}, "model": {"kind": "pretrained", "base": "MobileNet3"}})


def test_a_mobilenet_width_is_one_keras_has_weights_for_and_only_for_mobilenets():
    base = {"data": {"source": "sklearn:digits"}, "model": {"kind": "pretrained", "base": "MobileNetV3Small"}}
    assert nnlab.load_spec({**base, "model": {**base["model"], "alpha": {"choice": [0.75, 1.0]}}}).model.alpha
    with pytest.raises(SpecError, match="no ImageNet weights of MobileNetV3Small at this width; it has 0.75, 1"):
        nnlab.load_spec({**base, "model": {**base["model"], "alpha": 0.5}})
    assert nnlab.load_spec({**base, "model": {**base["model"], "alpha": 0.5, "weights": "none"}}).model.alpha == 0.5
    with pytest.raises(SpecError, match="a width multiplier of MobileNet bases"):
        nnlab.load_spec({**base, "model": {**base["model"], "base": "ResNet50", "alpha": 0.75}})


@pytest.mark.slow
def test_every_base_named_is_in_keras_applications_and_a_mobilenet_s_width_makes_it_smaller():
    import keras

    from nnlab.engine.model.pretrained import make_base
    from nnlab.spec.layers import IMAGENET_ALPHAS, PRETRAINED_BASES

    for name, (module, smallest) in PRETRAINED_BASES.items():
        assert callable(getattr(keras.applications, name)), name
        assert callable(getattr(keras.applications, module).preprocess_input), module
        assert smallest >= 32
    assert set(IMAGENET_ALPHAS) <= set(PRETRAINED_BASES)
    sizes = [make_base({"base": "MobileNetV3Small", "alpha": a}, (32, 32, 3), "none").count_params() for a in (0.75, 1)]
    assert sizes[0] < 0.8 * sizes[1], sizes


@pytest.mark.slow
def test_a_pretrained_sweep_loads_a_weights_file_freezes_the_base_then_fine_tunes_its_top(tmp_path):
    from nnlab.engine.model.pretrained import make_base

    base = make_base({"base": "MobileNetV3Small", "weights": "none"}, (8, 8, 1))
    base.save_weights(tmp_path / "base.weights.h5")
    write_digits(tmp_path)
    saved = [np.array(w) for w in base.get_weights()]
    (tmp_path / "p.yaml").write_text(SPEC.format(name="p", weights="base.weights.h5", layers=0))

    result = runner.invoke(app, ["run", str(tmp_path / "p.yaml"), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "images are 8×8; MobileNetV3Small takes at least 32×32: they are resized to 32×32" in result.output
    run_dir = tmp_path / "runs" / "p"
    rows = (run_dir / "trials.csv").read_text().splitlines()
    assert len(rows) == 2 and ",completed," in rows[1]
    assert json.loads((run_dir / "summary.json").read_text())["refit"]["epochs"] in (1, 2)
    frozen_run = nnlab.open(run_dir).model().get_layer("base")
    assert not frozen_run.trainable_weights and all(  # trainable_layers 0: the file's weights, untouched
        np.array_equal(a, b) for a, b in zip(frozen_run.get_weights(), saved))

    from nnlab.data.load import load_data
    from nnlab.engine.trainer import Trainer
    from nnlab.spec.space import finish_params, fixed_params

    spec = nnlab.load_spec(tmp_path / "p.yaml")
    trainer = Trainer(spec, load_data(spec))
    params = {**finish_params(spec, fixed_params(spec)), "trainable_layers": 5}
    model, _ = trainer.refit(params, epochs=2)  # the head for 1 epoch, then the top 5 layers fine-tuned
    tuned = model.get_layer("base")
    import keras

    top = [layer for layer in tuned.layers[-5:] if layer.weights]
    assert top and all(layer.trainable != isinstance(layer, keras.layers.BatchNormalization) for layer in top)
    assert not any(layer.trainable for layer in tuned.layers[:-5] if layer.weights)  # phase 2: the top 5 only
    now = tuned.get_weights()
    frozen = [i for i, w in enumerate(tuned.weights) if not any(w is v for v in tuned.trainable_weights)]
    assert all(np.array_equal(now[i], saved[i]) for i in frozen)  # the file's weights, kept where frozen
    moved = [i for i, w in enumerate(tuned.weights) if any(w is v for v in tuned.trainable_weights)]
    assert moved and any(not np.array_equal(now[i], saved[i]) for i in moved)  # fine-tuned where unfrozen

    scored = runner.invoke(app, ["evaluate", str(run_dir), str(tmp_path / "digits.npz")])
    assert scored.exit_code == 0 and "160 examples" in scored.output, scored.output


@pytest.mark.slow
def test_imagenet_weights_offline_exit_2_before_any_training_with_what_to_do(tmp_path, monkeypatch):
    import keras  # noqa: F401  (keras.src.utils.file_utils is where keras.applications download)
    from keras.src.utils import file_utils

    url = ("https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
           "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5")

    def offline(fname=None, origin=None, *args, **kwargs):
        raise Exception(f"URL fetch failure on {origin or url}: None -- [Errno -3] Temporary failure in name "
                        "resolution")

    monkeypatch.setattr(file_utils, "get_file", offline)
    write_digits(tmp_path)
    (tmp_path / "p.yaml").write_text(SPEC.format(name="p", weights="imagenet", layers=0))
    result = runner.invoke(app, ["run", str(tmp_path / "p.yaml"), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "could not be downloaded" in result.output
    assert ".h5" in result.output and ".keras/models" in result.output and "`none`" in result.output
    assert not (tmp_path / "runs" / "p" / "trials.csv").exists() or \
        len((tmp_path / "runs" / "p" / "trials.csv").read_text().splitlines()) <= 1
    result = runner.invoke(app, ["validate", str(tmp_path / "p.yaml")])
    assert result.exit_code == 2 and "could not be downloaded" in result.output
    (tmp_path / "q.yaml").write_text(SPEC.format(name="q", weights="missing.weights.h5", layers=0))
    result = runner.invoke(app, ["validate", str(tmp_path / "q.yaml")])
    assert result.exit_code == 2 and "no weights file at" in result.output


@pytest.mark.slow
def test_the_traffic_sign_specs_validate_on_a_folder_of_classes(tmp_path):
    import shutil

    from PIL import Image

    from nnlab.spec.loader import load_spec

    docs = nnlab_root() / "docs" / "traffic-signs"
    rng = np.random.default_rng(0)
    for label in ("0", "1", "14"):
        folder = tmp_path / "data" / "gtsrb" / "Train" / label
        folder.mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")
    for name, extra in (("cnn.yaml", []), ("pretrained.yaml", ["--set", "model.weights=none"])):
        shutil.copy(docs / name, tmp_path / name)
        assert load_spec(tmp_path / name).data.path == tmp_path / "data" / "gtsrb" / "Train"
        result = runner.invoke(app, ["validate", str(tmp_path / name), "--runs-dir", str(tmp_path / "runs"), *extra])
        assert result.exit_code == 0, result.output
        assert "3 classes" in result.output
    # the same folder, size and seed: the second validate read the images the first one kept (and so will run)
    assert len(list((tmp_path / "runs" / ".decoded").iterdir())) == 1 and "read from" in result.output
    assert "base MobileNetV3Small: 939,120 parameters (without its top), input 48×48×3" in result.output
    assert "base EfficientNetB0: 4,049,571 parameters" in result.output


def nnlab_root():
    from pathlib import Path

    return Path(__file__).parent.parent
