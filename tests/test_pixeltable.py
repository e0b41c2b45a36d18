"""A CSV of pixels (a digits file: a label and 0–255 columns): a note says so, `data.image_shape` reads each
row as an image for a CNN (no column left out, not standardized, scaled in the model), `init` offers it,
and a run on it predicts and evaluates a CSV of new rows."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.data.load import load_data
from nnlab.errors import DataError
from nnlab.spec.loader import load_spec

runner = CliRunner()


def _digits(path, rows: int = 120, side: int = 8, label: bool = True):
    rng = np.random.default_rng(0)
    labels = np.arange(rows) % 3
    pixels = np.zeros((rows, side, side), int)
    for i, k in enumerate(labels):  # three classes: a bright row, a bright column, a bright diagonal
        image = pixels[i]
        image[side // 2, :] = 200 if k == 0 else 0
        image[:, side // 2] = 200 if k == 1 else image[:, side // 2]
        np.fill_diagonal(image, 200 if k == 2 else 0)
        image += rng.integers(0, 40, image.shape) * (rng.random(image.shape) < 0.3)
    pixels[:, 0, 0] = 0  # a pixel 0 in every row: still a pixel
    names = [f"pixel{i}" for i in range(side * side)]
    lines = [",".join((["label"] if label else []) + names)]
    lines += [",".join(([str(k)] if label else []) + [str(v) for v in p.ravel()]) for k, p in zip(labels, pixels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _spec(write, tmp_path, extra: str = "", kind: str = "mlp"):
    _digits(tmp_path / "digits.csv")
    return load_spec(write("spec.yaml", f"data: {{source: csv, path: digits.csv, target: label{extra}}}\n"
                                        f"model: {{kind: {kind}}}\n"))


def test_a_table_of_pixels_gets_a_note_and_reads_as_a_table_until_asked(write, tmp_path):
    data = load_data(_spec(write, tmp_path))
    assert data.kind == "tabular" and any(
        "the 64 feature columns hold whole numbers 0–255, like the pixels of 8×8 grey images: data.image_shape: "
        "[8, 8, 1] reads each row as an image" in n for n in data.notes)
    assert data.input_shape[0] < 64  # (as a table, the pixel that never changes is left out)


def test_image_shape_reads_each_row_as_an_image_with_every_pixel_kept(write, tmp_path):
    data = load_data(_spec(write, tmp_path, ", image_shape: [8, 8, 1]", kind="cnn"))
    assert data.kind == "images" and data.input_shape == (8, 8, 1) and data.rescale == pytest.approx(1 / 255)
    assert data.x_train.max() == 239 and data.x_train[:, 0, 0, 0].max() == 0  # (as written, not standardized)
    assert data.preparation.pixels and data.preparation.numeric == ()
    assert "64 columns read as 8×8×1 images (data.image_shape), row by row, pixels multiplied by 1/255 in the " \
           "model" in data.notes
    assert not any("same value in every row" in n for n in data.notes)


def test_a_csv_of_pixels_read_back_from_its_copy_is_still_images(write, tmp_path, monkeypatch):
    from nnlab.runs import imagecache, tablecache

    monkeypatch.setattr(tablecache, "SMALLEST", 0)
    spec = _spec(write, tmp_path, ", image_shape: [8, 8, 1]", kind="cnn")
    first = imagecache.load(spec, tmp_path / "runs")
    again = imagecache.load(spec, tmp_path / "runs")
    assert any("read from the copy" in n for n in again.notes)
    assert again.kind == "images" and again.rescale == first.rescale and again.input_shape == (8, 8, 1)
    assert np.array_equal(again.x_train, first.x_train)


def test_image_shape_that_does_not_fit_the_columns_is_a_clear_error(write, tmp_path):
    with pytest.raises(DataError, match=r"data.image_shape \[9, 9, 1\] needs 81 pixel columns; digits.csv has 64"):
        load_data(_spec(write, tmp_path, ", image_shape: [9, 9, 1]", kind="cnn"))
    with pytest.raises(Exception, match="height and width are 2 or more"):
        _spec(write, tmp_path, ", image_shape: [1, 64, 1]", kind="cnn")


def test_init_takes_the_first_column_as_the_label_and_offers_the_cnn(tmp_path):
    data = _digits(tmp_path / "digits.csv")
    result = runner.invoke(app, ["init", "--data", str(data), "--output", str(tmp_path / "mlp.yaml")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "mlp.yaml").read_text()
    assert "target: label" in text and "kind: mlp" in text and "--kind cnn` writes a spec" in text
    result = runner.invoke(app, ["init", "--data", str(data), "--kind", "cnn", "--output", str(tmp_path / "c.yaml")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "c.yaml").read_text()
    assert "image_shape: [8, 8, 1]" in text and "kind: cnn" in text and "flip" not in text
    assert load_data(load_spec(tmp_path / "c.yaml")).input_shape == (8, 8, 1)


def test_init_refuses_a_cnn_for_a_table_that_is_no_pixels(write, tmp_path):
    data = write("t.csv", "a,b,y\n" + "".join(f"{i * 0.5},{i % 3},{i % 2}\n" for i in range(30)))
    result = runner.invoke(app, ["init", "--data", str(data), "--kind", "cnn", "--output", str(tmp_path / "s.yaml")])
    assert result.exit_code == 2 and "a CSV whose feature columns are pixels" in result.output


@pytest.mark.slow
def test_a_cnn_on_a_csv_of_pixels_runs_predicts_and_evaluates_new_rows(write, tmp_path):
    _spec(write, tmp_path, ", image_shape: [8, 8, 1], test_split: 0.2", kind="cnn")
    (tmp_path / "spec.yaml").write_text((tmp_path / "spec.yaml").read_text() + "search: {max_trials: 1}\n"
                                        "train: {epochs: 3}\n")
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["run", str(tmp_path / "spec.yaml"), "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    assert "expected on new rows about" in result.output  # (the test rows are scored: a CNN's, not a baseline's)
    new = _digits(tmp_path / "new.csv", rows=12, label=False)
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(runs / "spec"), str(new), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 13
    result = runner.invoke(app, ["evaluate", str(runs / "spec"), str(_digits(tmp_path / "l.csv", rows=30))])
    assert result.exit_code == 0 and "accuracy" in result.output, result.output
