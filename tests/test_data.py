"""Data sources other than CSV: image folders, npz arrays, scikit-learn sets, keras downloads."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.data.images import read_image_folder
from nnlab.data.load import load_data
from nnlab.data.splits import random_split as split
from nnlab.errors import DataError
from nnlab.spec.loader import load_spec


def image_spec(write, folder, *extra):
    text = f"data: {{source: images, path: {folder}, image_size: [16, 16]}}\nmodel: {{kind: cnn}}\n"
    return load_spec(write("spec.yaml", text), list(extra))


def test_image_folder_loads_resized_with_class_names(write, image_folder):
    folder = image_folder(6, ("cat", "dog", "eel"))
    data = load_data(image_spec(write, folder))
    assert data.kind == "images" and data.class_names == ["cat", "dog", "eel"]
    assert data.x_train.shape[1:] == (16, 16, 3) and data.x_train.dtype == np.uint8
    assert len(data.x_train) + len(data.x_val) == 18
    assert sorted(np.bincount(data.y_val, minlength=3)) == [1, 1, 2]  # stratified: 4 of 6 + 6 + 6 images
    assert data.rescale == pytest.approx(1 / 255)


def test_grayscale_gives_one_channel(write, image_folder):
    data = load_data(image_spec(write, image_folder(), "data.color_mode=grayscale"))
    assert data.x_train.shape[-1] == 1


def test_corrupt_empty_and_stray_files_are_skipped_and_counted(write, image_folder):
    folder = image_folder(5)
    (folder / "a" / "broken.png").write_bytes(b"not really a png")
    (folder / "a" / "empty.jpg").write_bytes(b"")
    (folder / "b" / "notes.txt").write_text("hello")
    (folder / "b" / ".DS_Store").write_text("x")
    data = load_data(image_spec(write, folder))
    assert len(data.x_train) + len(data.x_val) == 10
    assert any("2 image file(s) could not be decoded" in n for n in data.notes)
    assert any("1 file(s)" in n and "that are not images were ignored" in n for n in data.notes)


@pytest.mark.parametrize("make, expected", [
    (lambda root: (root / "x.png").touch(), r"image\(s\) directly inside"),
    (lambda root: (root / "only").mkdir(), "one class subfolder"),
    (lambda root: [(root / c).mkdir() for c in "ab"], "holds no images"),
])
def test_unusable_image_folders(write, tmp_path, make, expected):
    root = tmp_path / "imgs"
    root.mkdir()
    make(root)
    with pytest.raises(DataError, match=expected):
        load_data(image_spec(write, root))


def test_a_folder_of_the_data_sets_parts_is_refused_naming_the_folder_of_classes(image_folder, tmp_path):
    """GTSRB as downloaded: gtsrb/Train/<class>/, gtsrb/Test/, gtsrb/Meta/; read as classes, they would
    be three classes called Meta, Test and Train."""
    image_folder(3, ("0", "1", "14"), name="gtsrb/Train")
    image_folder(2, ("Test", "Meta"), name="gtsrb")
    expected = (r"\(Meta, Test, Train\) are the data set's parts, not classes: Train/ has its own class folders "
                r"\(0, 1, 14\)\. Give the folder of classes, .*gtsrb/Train")
    with pytest.raises(DataError, match=expected):
        read_image_folder(tmp_path / "gtsrb", (8, 8), "rgb")
    assert read_image_folder(tmp_path / "gtsrb" / "Train", (8, 8), "rgb").class_names == ["0", "1", "14"]
    image_folder(2, ("test", "Stop"), name="signs")  # a class that is only called "test": still a class
    assert read_image_folder(tmp_path / "signs", (8, 8), "rgb").class_names == ["Stop", "test"]


def test_a_macs_zip_metadata_is_not_a_class(image_folder, tmp_path):
    folder = image_folder(2, ("cat", "dog"))
    for where in (folder / "__MACOSX" / "cat", folder / "cat" / "__MACOSX"):  # as unzipping a Mac's zip leaves it
        where.mkdir(parents=True)
        (where / "._0.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    read = read_image_folder(folder, (8, 8), "rgb")
    assert read.class_names == ["cat", "dog"] and len(read.files) == 4 and read.notes == []


def test_missing_image_folder(write, tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_data(image_spec(write, tmp_path / "nowhere"))


def test_validation_folder_keeps_training_class_order(write, image_folder, tmp_path):
    train = image_folder(4, ("a", "b"), name="train")
    val = image_folder(2, ("b",), name="val")
    folder = read_image_folder(val, (8, 8), "rgb", ["a", "b"])
    assert set(folder.labels) == {1}
    data = load_data(image_spec(write, train, f"data.validation_path={val}"))
    assert len(data.x_val) == 2 and len(data.x_train) == 8


def test_npz_tabular_and_images(write, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tab.npz", x=rng.normal(size=(40, 3)), y=rng.normal(size=40))
    text = "data: {source: npz, path: tab.npz}\nmodel: {kind: mlp}\n"
    data = load_data(load_spec(write("s.yaml", text)))
    assert data.task == "regression" and data.input_shape == (3,)
    np.savez(tmp_path / "img.npz", x=rng.integers(0, 255, (30, 8, 8), dtype=np.uint8),
             y=np.arange(30) % 3, x_val=rng.integers(0, 255, (6, 8, 8), dtype=np.uint8), y_val=np.arange(6) % 3)
    text = "data: {source: npz, path: img.npz}\nmodel: {kind: cnn}\n"
    data = load_data(load_spec(write("s2.yaml", text)))
    assert data.kind == "images" and data.input_shape == (8, 8, 1) and len(data.x_val) == 6
    assert data.task == "classification" and data.num_classes == 3


def test_npz_without_x_and_y(write, tmp_path):
    np.savez(tmp_path / "bad.npz", features=np.zeros((3, 2)))
    with pytest.raises(DataError, match="needs arrays named x and y"):
        load_data(load_spec(write("s.yaml", "data: {source: npz, path: bad.npz}\nmodel: {kind: mlp}\n")))


@pytest.mark.parametrize("name, kind, shape, task", [
    ("digits", "mlp", (64,), "classification"),
    ("digits", "cnn", (8, 8, 1), "classification"),
    ("iris", "mlp", (4,), "classification"),
    ("wine", "mlp", (13,), "classification"),
    ("breast_cancer", "mlp", (30,), "classification"),
    ("diabetes", "mlp", (10,), "regression"),
])
def test_bundled_sklearn_sets(write, name, kind, shape, task):
    data = load_data(load_spec(write("s.yaml", f"data: {{source: 'sklearn:{name}'}}\nmodel: {{kind: {kind}}}\n")))
    assert data.input_shape == shape and data.task == task


def test_cnn_on_tabular_data_is_refused(write):
    with pytest.raises(DataError, match="cnn needs image data"):
        load_data(load_spec(write("s.yaml", "data: {source: 'sklearn:iris'}\nmodel: {kind: cnn}\n")))


def test_keras_download_failure_explains_how_to_work_offline(write, monkeypatch):
    import keras

    def offline():
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataError) as info:
        load_data(load_spec(write("s.yaml", "data: {source: 'keras:mnist'}\nmodel: {kind: cnn}\n")))
    assert "needs the internet" in str(info.value) and "source: npz" in str(info.value)


def test_split_is_stratified_when_possible_and_says_when_not():
    notes = []
    y = np.array([0] * 10 + [1] * 10)
    train, val = split(y, "classification", 0.2, 0, notes)
    assert sorted(np.bincount(y[val])) == [2, 2] and not notes
    y = np.array([0] * 10 + [1])
    split(y, "classification", 0.2, 0, notes)
    assert notes and "not stratified" in notes[0]


def test_the_data_line_with_folds_counts_every_row(write):
    spec = write("s.yaml", "data: {source: 'sklearn:wine', folds: 3}\nmodel: {kind: mlp}\n")
    text = load_data(load_spec(spec)).summary()
    assert text.startswith("sklearn:wine: 178 examples in 3 folds (each trial trains 3 times, on about 119 and "
                           "validating on about 59)")
    assert "training and" not in text


@pytest.mark.parametrize("fmt, suffix", [("PPM", ".ppm"), ("PPM", ".pgm"), ("TIFF", ".tif"), ("WEBP", ".webp"),
                                         ("BMP", ".bmp"), ("JPEG", ".dat"), ("PNG", "")])
def test_every_format_pillow_reads_by_name_or_by_content(write, tmp_path, fmt, suffix):
    """The original German traffic-sign set ships .ppm files; an image with a wrong or no extension is read
    by its content; a file that is no image is counted in a note."""
    from PIL import Image

    root = tmp_path / "signs"
    for c, cls in enumerate(("stop", "yield")):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            pixels = np.zeros((12, 12, 3), np.uint8)
            pixels[..., c] = 200  # red or green
            image = Image.fromarray(pixels).convert("L" if suffix == ".pgm" else "RGB")
            image.save(root / cls / f"{i}{suffix}", format=fmt)
        (root / cls / "readme.txt").write_text("not an image")
    data = load_data(image_spec(write, root))
    assert len(data.x_train) + len(data.x_val) == 8 and data.class_names == ["stop", "yield"]
    x = np.concatenate([data.x_train, data.x_val])
    y = np.concatenate([data.y_train, data.y_val])
    if suffix != ".pgm":  # the colour of each class survives the decoding
        assert x[y == 0][..., 0].mean() > 150 and x[y == 1][..., 1].mean() > 150
    assert any("2 file(s)" in n and "not images were ignored" in n for n in data.notes)
