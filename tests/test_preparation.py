"""The record of how a run's data was prepared: written and read back the same, every earlier layout
still read, and the one rule for the shape a model is built for. No TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nnlab.data.preparation import LAYOUT, ArrayPrep, ImagePrep, Preparation, TablePrep
from nnlab.errors import RunError
from nnlab.spec.loader import load_spec

FIXTURES = Path(__file__).parent / "fixtures"


def _dataset(write, text: str):
    from nnlab.data.load import load_data

    return load_data(load_spec(write("s.yaml", text)))


def test_a_table_run_round_trips_with_its_targets_and_transforms(write):
    rng = np.random.default_rng(0)
    rows = ["size,colour,when,price,kind"] + [
        f"{rng.uniform(1, 9):.2f},{rng.choice(['red', 'blue', 'green'])},2021-0{1 + i % 9}-1{i % 9},"
        f"{rng.uniform(10, 900):.1f},{rng.choice(['a', 'b'])}" for i in range(60)]
    write("t.csv", "\n".join(rows) + "\n")
    data = _dataset(write, "data: {source: csv, path: t.csv, target: [price, kind], target_transform: log}\n"
                           "model: {kind: mlp}\n")
    prep = data.preparation
    assert prep.kind == "table" and isinstance(prep.source, TablePrep)
    again = Preparation.from_json(json.loads(json.dumps(prep.to_json())))
    assert again == prep and again.to_json()["layout"] == LAYOUT
    assert [(t.name, t.task, t.head) for t in again.outputs()] == [("price", "regression", "price"),
                                                                   ("kind", "classification", "kind")]
    assert again.outputs()[0].transform.kind == "log" and again.outputs()[1].transform is None
    assert again.table.features == data.source.features and "colour=red" in again.table.features


def test_the_shape_of_a_rebuilt_model_is_the_shape_it_was_trained_in_but_the_output_biases(write):
    rows = ["x,y,z"] + [f"{(i * 7) % 11 / 3:.3f},{i * 2.5},{'p' if i % 2 else 'q'}" for i in range(30)]
    write("t.csv", "\n".join(rows) + "\n")
    data = _dataset(write, "data: {source: csv, path: t.csv, target: [y, z]}\nmodel: {kind: mlp}\n")
    trained, rebuilt = data.model_shape(), Preparation.from_json(data.preparation.to_json()).shape()
    assert [name for name, _ in trained.heads] == [name for name, _ in rebuilt.heads] == ["y", "z"]
    assert trained.heads[0][1].target_mean == pytest.approx(data.y_train[:, 0].mean())
    assert rebuilt.heads[0][1].target_mean == 0.0  # (the checkpoint's bias is loaded over it)
    strip = [(n, h.task, h.num_classes, h.transform) for n, h in trained.heads]
    assert strip == [(n, h.task, h.num_classes, h.transform) for n, h in rebuilt.heads]


def test_arrays_and_image_folders_have_their_own_parts(write):
    iris = _dataset(write, "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n").preparation
    assert iris.kind == "arrays" and len(iris.source.mean) == 4 and not iris.pixels
    assert Preparation.from_json(iris.to_json()) == iris
    images = Preparation(ImagePrep((8, 8), "grayscale"), "classification", (8, 8, 1), ["a", "b"], 1 / 255)
    again = Preparation.from_json(images.to_json())
    assert again == images and again.pixels and again.shape().rescale == pytest.approx(1 / 255)


def test_every_layout_1_kind_is_read_from_its_keys():
    """nnlab 0.3 and before wrote no layout and no kind: each reads as the kind it was."""
    old = json.loads((FIXTURES / "runs-0.1.0" / "iris-v010" / "preprocessing.json").read_text())
    assert "layout" not in old
    iris = Preparation.from_json(old)
    assert iris.kind == "arrays" and iris.source == ArrayPrep(old["mean"], old["std"])
    assert iris.class_names == ["setosa", "versicolor", "virginica"] and iris.input_shape == (4,)
    folder = {"type": "images", "image_size": [16, 16], "color_mode": "rgb", "task": "classification",
              "class_names": ["a", "b"], "input_shape": [16, 16, 3], "rescale": 1 / 255}
    assert Preparation.from_json(folder).kind == "image_folder"
    digits = {"type": "images", "task": "classification", "class_names": ["0", "1"], "input_shape": [8, 8, 1],
              "rescale": 1 / 16}
    assert Preparation.from_json(digits).kind == "arrays" and Preparation.from_json(digits).pixels
    table = {"type": "tabular", "target": "y", "task": "regression", "input_shape": [1], "rescale": 1.0,
             "columns": [{"name": "x", "type": "numeric", "median": 1.0, "mean": 1.0, "std": 2.0}]}
    read = Preparation.from_json(table)
    assert read.kind == "table" and read.table.reader is None and read.table.columns[0].format is None


def test_a_record_from_a_newer_nnlab_is_refused_clearly():
    with pytest.raises(RunError, match="newer nnlab"):
        Preparation.from_json({"layout": LAYOUT + 1, "kind": "arrays", "task": "regression", "input_shape": [1]})
    with pytest.raises(RunError, match="unknown kind 'sound'"):
        Preparation.from_json({"layout": LAYOUT, "kind": "sound", "task": "regression", "input_shape": [1]})
