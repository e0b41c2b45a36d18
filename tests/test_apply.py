"""A finished run on new data: predict (CSV, image folders, .npz), evaluate, export, --trial."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.engine.sweep import run
from nnlab.runs import files as results
from nnlab.spec.loader import load_spec
from nnlab.tools.apply import load_model, open_run
from nnlab.tools.inputs import read_inputs

pytestmark = pytest.mark.slow
runner = CliRunner()


def rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csvrun")
    rng = np.random.default_rng(0)
    lines = ["Size,Colour,Price,Label"]
    for i in range(120):
        size = rng.normal()
        lines.append(f"{size:.3f},{['red', 'blue'][i % 2]},${abs(size) * 100:,.2f},{'Big' if size > 0 else 'Small'}")
    (folder / "shop.csv").write_text("\n".join(lines) + "\n")
    (folder / "s.yaml").write_text(
        "name: shop\ndata: {source: csv, path: shop.csv, target: Label}\n"
        "model: {kind: mlp, layers: 1, units: {choice: [8, 16]}}\n"
        "train: {epochs: 8, batch_size: 16, learning_rate: 0.02}\n"
        "search: {tuner: grid, max_trials: 2, objective: val_accuracy, keep: all, refit: false}\n")
    result = run(load_spec(folder / "s.yaml"), folder / "runs", quiet=True)
    assert result.exit_code == 0
    return folder, result.run_dir


def test_predict_a_csv_without_its_target_column_in_input_order(csv_run):
    folder, run_dir = csv_run
    new = folder / "new.csv"
    new.write_text("Colour,Size,Price\nblue,2.5,$250.00\nred,-2.5,$250.00\nRED,3.0,\n")  # columns reordered, a gap
    result = runner.invoke(app, ["predict", str(run_dir), str(new), "-o", str(folder / "p.csv"), "--proba"])
    assert result.exit_code == 0, result.output
    out = rows(folder / "p.csv")
    assert [r["row"] for r in out] == ["1", "2", "3"]
    assert [r["predictions"] for r in out] == ["Big", "Small", "Big"]  # the class names, not indices
    assert abs(float(out[0]["proba_Big"]) + float(out[0]["proba_Small"]) - 1) < 1e-5


def test_evaluate_a_labelled_csv_and_a_clear_error_without_labels(csv_run):
    folder, run_dir = csv_run
    result = runner.invoke(app, ["evaluate", str(run_dir), str(folder / "shop.csv")])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "macro F1" in result.output and "confusion matrix" in result.output
    result = runner.invoke(app, ["evaluate", str(run_dir), str(folder / "shop.csv"), "--json"])
    import json

    metrics = json.loads(result.output)
    assert metrics["accuracy"] > 0.8 and metrics["confusion_matrix"] and set(metrics["per_class"]) == {"Big", "Small"}
    (folder / "nolabel.csv").write_text("Size,Colour,Price\n1,red,$1\n")
    result = runner.invoke(app, ["evaluate", str(run_dir), str(folder / "nolabel.csv")])
    assert result.exit_code == 2 and "no target column 'Label'" in result.output


def test_a_trial_rebuilt_from_its_checkpoint_is_the_trained_model(csv_run):
    folder, run_dir = csv_run
    finished = open_run(run_dir)
    best_trial = finished.summary.best_model_trial
    best = load_model(finished)
    finished.summary.best_model_trial = None  # so that the trial is rebuilt from its checkpoint
    rebuilt = load_model(finished, best_trial)
    x = read_inputs(folder / "shop.csv", finished.preparation, labelled=True).x
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), best.predict(x, verbose=0), atol=1e-6)
    other = "0" if best_trial != "0" else "1"
    result = runner.invoke(app, ["export", str(run_dir), "--trial", other, "-o", str(folder / "other.keras")])
    assert result.exit_code == 0 and (folder / "other.keras").is_file()
    result = runner.invoke(app, ["export", str(run_dir), "--trial", "7", "-o", str(folder / "x.keras")])
    assert result.exit_code == 2 and "has no trial '7'" in result.output


def test_export_keras_and_savedmodel(csv_run, tmp_path):
    import keras

    _, run_dir = csv_run
    result = runner.invoke(app, ["export", str(run_dir), "-o", str(tmp_path / "m.keras")])
    assert result.exit_code == 0
    assert keras.saving.load_model(tmp_path / "m.keras").output_shape == (None, 1)
    result = runner.invoke(app, ["export", str(run_dir), "-o", str(tmp_path / "served")])  # (no suffix: a folder)
    assert result.exit_code == 0 and "(savedmodel)" in result.output, result.output
    assert (tmp_path / "served" / "saved_model.pb").is_file()
    result = runner.invoke(app, ["export", str(run_dir), "-o", str(tmp_path / "m.h5")])
    assert result.exit_code == 2 and "its suffix names no export format" in result.output
    result = runner.invoke(app, ["export", str(run_dir), "-o", str(tmp_path / "m.h5"), "--format", "keras"])
    assert result.exit_code == 2 and "must end in .keras" in result.output


def test_predict_and_evaluate_image_folders(write, tmp_path, image_folder, monkeypatch):
    folder = image_folder(n_per_class=8, classes=("cat", "dog"))
    spec = write("img.yaml", f"""
        name: img
        data: {{source: images, path: {folder}, image_size: [12, 12]}}
        model: {{kind: cnn, conv_blocks: 1, filters: 4, dense_layers: 0}}
        train: {{epochs: 1, batch_size: 8}}
        search: {{max_trials: 1}}
    """)
    result = run(load_spec(spec), tmp_path / "runs", quiet=True)
    run_dir = result.run_dir
    from nnlab.data import images
    from nnlab.runs import imagecache

    def decode_again(*args):
        raise AssertionError("the report decoded the image folder again")

    with monkeypatch.context() as patched:
        for module in (images, imagecache):  # the report reads the run's kept copy: no decoding
            patched.setattr(module, "decode_split", decode_again)
        out = runner.invoke(app, ["report", str(run_dir), "-o", str(tmp_path / "img.html")])
    assert out.exit_code == 0, out.output
    page = (tmp_path / "img.html").read_text()
    assert "model on the validation data" in page and "macro F1" in page and "cannot be read" not in page
    # a flat folder of new images, one of them broken
    flat = tmp_path / "new"
    flat.mkdir()
    for i, src in enumerate(sorted((folder / "dog").iterdir())[:3]):
        (flat / f"z{i}.png").write_bytes(src.read_bytes())
    (flat / "broken.jpg").write_bytes(b"not an image")
    out = runner.invoke(app, ["predict", str(run_dir), str(flat), "-o", str(tmp_path / "p.csv")])
    assert out.exit_code == 0, out.output
    predicted = rows(tmp_path / "p.csv")
    assert [r["file"] for r in predicted] == ["broken.jpg", "z0.png", "z1.png", "z2.png"]
    assert predicted[0]["predictions"] == "could not decode the image: not an image Pillow can read"
    assert {r["predictions"] for r in predicted[1:]} <= {"cat", "dog"}
    import nnlab

    frame = nnlab.open(run_dir).predict(flat, proba=True)  # from Python: no guess for the broken image either
    assert frame["predictions"].isna().tolist() == [True, False, False, False]
    assert frame.iloc[0][["proba_cat", "proba_dog"]].isna().all()
    assert frame["predictions"].tolist()[1:] == [r["predictions"] for r in predicted[1:]]
    out = runner.invoke(app, ["evaluate", str(run_dir), str(folder)])
    assert out.exit_code == 0 and "16 examples" in out.output
    assert (run_dir / results.BEST_MODEL).is_file()
    out = runner.invoke(app, ["predict", str(run_dir), str(flat / "z0.png"), "-o", str(tmp_path / "one.csv")])
    assert out.exit_code == 0 and "wrote 1 prediction to" in out.output
    (tmp_path / "new.csv").write_text("a,b\n1,2\n")  # a CSV given to an image run, not a list of images
    out = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "new.csv"), "-o", str(tmp_path / "c.csv")])
    assert out.exit_code == 2 and "does not list image files" in out.output and not (tmp_path / "c.csv").exists()
    # a list of images with their classes, as GTSRB's Test.csv (paths relative to the CSV, in its own order)
    listed = ["dog/" + p.name for p in sorted((folder / "dog").iterdir())[:2]] + ["cat/" + sorted(
        (folder / "cat").iterdir())[0].name]
    (folder / "Test.csv").write_text("Width,ClassId,Path\n" + "".join(
        f"12,{p.split('/')[0]},{p}\n" for p in listed))
    out = runner.invoke(app, ["predict", str(run_dir), str(folder / "Test.csv"), "-o", str(tmp_path / "t.csv")])
    assert out.exit_code == 0, out.output
    assert [r["Path"] for r in rows(tmp_path / "t.csv")] == listed  # the list's order, its own paths
    out = runner.invoke(app, ["evaluate", str(run_dir), str(folder / "Test.csv")])
    assert out.exit_code == 0, out.output
    assert "3 examples" in out.output and "labels from Test.csv's column 'ClassId'" in out.output
    out = runner.invoke(app, ["evaluate", str(run_dir), str(folder / "Test.csv"), "--label", "Width"])
    assert out.exit_code == 2 and "labels the run never saw: 12" in out.output
    out = runner.invoke(app, ["evaluate", str(run_dir), str(folder), "--label", "ClassId"])
    assert out.exit_code == 2 and "--label names the column" in out.output
    out = runner.invoke(app, ["predict", str(run_dir), str(flat / "broken.jpg"), "-o", str(tmp_path / "c.csv")])
    assert out.exit_code == 2 and "could be decoded" in out.output


def test_retrain_the_best_with_other_seeds(csv_run):
    _, run_dir = csv_run
    result = runner.invoke(app, ["retrain", str(run_dir), "--top", "2", "--seeds", "2"])
    assert result.exit_code == 0, result.output
    assert "mean ± std" in result.output
    saved = results.read_json(run_dir / "retrain.json")
    assert saved["objective"] == "val_accuracy" and len(saved["configurations"]) == 2
    summary = results.read_json(run_dir / results.SUMMARY)
    for entry in saved["configurations"]:
        assert len(entry["scores"]) == 2 and len(set(entry["seeds"])) == 2
        assert 0 <= entry["mean"] <= 1 and entry["std"] >= 0
    assert {e["trial_id"] for e in saved["configurations"]} >= {summary["best_trial"]}  # (summary.json as read)


def test_report_is_one_self_contained_html_file_that_renders(csv_run, tmp_path):
    import shutil
    import subprocess

    _, run_dir = csv_run
    result = runner.invoke(app, ["report", str(run_dir), "-o", str(tmp_path / "report.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    for part in ("How the data was read", "column &#x27;Price&#x27;: numbers written like",
                 "Best model on the validation data", "accuracy", "macro F1", "Confusion matrix", "Per class",
                 "Trials", "Learning curves", "The best model's layers", "Spec", "target: Label"):
        assert part in page, part
    assert page.count("src='data:image/png;base64,") == 8  # the pictures travel inside the file (7 + the PR curve)
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere
    assert (tmp_path / "report.html").stat().st_mode & 0o044  # readable by others, as ordinary files are
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no headless Chromium here (apt-get install chromium) to render the report")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1100,1600", (tmp_path / "report.html").as_uri()],
                   capture_output=True, timeout=120)
    from PIL import Image

    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("L"), float)
    assert pixels.shape == (1600, 1100)
    assert pixels.std() > 20  # text, tables and pictures drawn, not a blank page
    assert (pixels < 100).mean() > 0.005  # dark text and lines


@pytest.fixture(scope="module")
def array_image_run(tmp_path_factory):
    """A CNN trained on 8×8 image arrays (an .npz of 3-D x), as sklearn:digits and keras:NAME runs are."""
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("arrays")
    digits = load_digits()
    np.savez(folder / "train.npz", x=digits.images[:300], y=digits.target[:300])
    np.savez(folder / "test.npz", x=digits.images[300:360, ..., None], y=digits.target[300:360])
    (folder / "s.yaml").write_text(
        "name: arrays\ndata: {source: npz, path: train.npz}\n"
        "model: {kind: cnn, conv_blocks: 1, filters: 4, dense_layers: 0}\n"
        "train: {epochs: 2, batch_size: 32}\nsearch: {max_trials: 1}\n")
    result = run(load_spec(folder / "s.yaml"), folder / "runs", quiet=True)
    assert result.exit_code == 0
    return folder, result.run_dir


def test_predict_and_evaluate_a_run_trained_on_image_arrays(array_image_run, tmp_path):
    folder, run_dir = array_image_run
    result = runner.invoke(app, ["evaluate", str(run_dir), str(folder / "test.npz"), "--json"])
    assert result.exit_code == 0, result.output
    import json

    assert json.loads(result.output)["examples"] == 60
    result = runner.invoke(app, ["predict", str(run_dir), str(folder / "test.npz"), "-o", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    predicted = rows(tmp_path / "p.csv")
    assert len(predicted) == 60 and {r["predictions"] for r in predicted} <= {str(d) for d in range(10)}
    (tmp_path / "pics").mkdir()
    result = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "pics")])
    assert result.exit_code == 2 and "trained on image arrays (8×8×1 per example)" in result.output
    assert "Traceback" not in result.output


def _augmented_cnn():
    from nnlab.engine.model.builders import DataShape, build_cnn

    params = dict(conv_blocks=1, filters=4, kernel_size=3, activation="relu", pooling="max", batch_norm=False,
                  global_pooling=False, dense_layers=1, dense_units=8, dropout=0.5,
                  augment={"flip": "horizontal", "rotation": 0.2, "zoom": 0.2, "contrast": 0.3})
    return build_cnn(params, DataShape((16, 16, 3), "classification", 3, 1 / 255))


def test_every_export_format_predicts_in_inference_mode(tmp_path):
    """Augmentation and dropout are off in every exported model: the same image, the same answer."""
    import keras
    import tensorflow as tf

    from nnlab.data.preparation import Preparation
    from nnlab.engine.model.builders import inference_model
    from nnlab.tools.export import export

    trained = _augmented_cnn()
    model = inference_model(trained)
    assert [type(layer).__name__ for layer in model.layers if type(layer).__name__.startswith("Random")] == []
    pixels = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3)).astype(np.uint8)
    expected = trained.predict(pixels.astype(np.float32), verbose=0)  # Keras's predict: inference mode
    export(model, tmp_path / "m.keras", "keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for _ in range(3):
        np.testing.assert_allclose(np.asarray(loaded(pixels.astype(np.float32))), expected, atol=1e-5)
    images = Preparation.from_json({"type": "images", "image_size": [16, 16], "task": "classification",
                                    "class_names": ["a", "b", "c"], "input_shape": [16, 16, 3]})
    export(model, tmp_path / "served", "savedmodel", images)
    served = tf.saved_model.load(str(tmp_path / "served"))
    signature = served.signatures["serving_default"]
    assert signature.structured_input_signature[1]["inputs"].dtype == tf.uint8  # pixels as the README says
    for _ in range(3):
        (out,) = signature(inputs=tf.constant(pixels)).values()
        np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)
        np.testing.assert_allclose(served.serve(pixels).numpy(), expected, atol=1e-5)


def test_the_inference_model_of_a_sequential_spec_predicts_as_keras_does(tmp_path):
    import keras

    from nnlab.engine.model.builders import DataShape, build_sequential, inference_model

    layers = [["RandomTranslation", {"height_factor": 0.2, "width_factor": 0.2}], ["RandomBrightness", {"factor": 0.3}],
              ["CenterCrop", {"height": 12, "width": 10}], ["Conv2D", {"filters": 3, "kernel_size": 3}],
              ["Dropout", {"rate": 0.5}]]
    trained = build_sequential({"layers": layers}, DataShape((16, 16, 3), "classification", 2, 1 / 255))
    pixels = np.random.default_rng(1).integers(0, 256, (3, 16, 16, 3)).astype(np.float32)
    expected = trained.predict(pixels, verbose=0)
    model = inference_model(trained)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for _ in range(2):
        np.testing.assert_allclose(np.asarray(loaded(pixels)), expected, atol=1e-5)
