"""A CSV that lists image files (GTSRB's Test.csv): which column holds the paths, which the labels."""

from __future__ import annotations

import pytest

from nnlab.data.imagelist import is_image_list, read_image_list
from nnlab.errors import DataError

CLASSES = [str(i) for i in range(43)]  # GTSRB's classes, named by number as its folders are


@pytest.fixture
def gtsrb(tmp_path):
    """GTSRB's layout: Test.csv beside Test/, with measurements that look like class numbers too."""
    (tmp_path / "Test").mkdir()
    for i in range(4):
        (tmp_path / "Test" / f"{i:05d}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    rows = [f"{30 + i},{31 + i},5,6,{25 + i},{26 + i},{[16, 1, 38, 33][i]},Test/{i:05d}.png" for i in (2, 0, 3, 1)]
    (tmp_path / "Test.csv").write_text("Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId,Path\n" + "\n".join(rows))
    return tmp_path / "Test.csv"


def test_the_paths_are_read_in_the_lists_order_relative_to_its_folder(gtsrb):
    assert is_image_list(gtsrb) and not is_image_list(gtsrb.parent / "Test")
    listed = read_image_list(gtsrb, None)
    assert listed.id_name == "Path" and listed.ids == ["Test/00002.png", "Test/00000.png", "Test/00003.png",
                                                       "Test/00001.png"]
    assert listed.files[0] == gtsrb.parent / "Test" / "00002.png" and listed.labels is None
    assert listed.notes == [f"4 images listed in Test.csv's column 'Path', in its order (paths relative to "
                            f"{gtsrb.parent})"]


def test_paths_written_on_windows_are_found(gtsrb):
    gtsrb.write_text("Path,ClassId\nTest\\00002.png,16\n")
    listed = read_image_list(gtsrb, CLASSES)
    assert listed.files == [gtsrb.parent / "Test" / "00002.png"] and listed.ids == ["Test\\00002.png"]


def test_the_label_column_is_the_one_named_like_labels_among_those_that_could_be(gtsrb):
    listed = read_image_list(gtsrb, CLASSES)  # Roi.X1 and Roi.Y1 (5, 6, …) are class numbers too
    assert listed.labels == ["38", "16", "33", "1"]
    assert "labels from Test.csv's column 'ClassId' (--label COLUMN to choose another)" in listed.notes
    assert read_image_list(gtsrb, CLASSES, label="roi.x1").labels == ["5"] * 4  # the user's choice, any case
    with pytest.raises(DataError, match="--label Class: Test.csv has no such column"):
        read_image_list(gtsrb, CLASSES, label="Class")


def test_columns_that_could_each_be_the_labels_are_named_and_none_is_guessed(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "list.csv").write_text("file,first,second\na.png,1,2\n")
    with pytest.raises(DataError, match="'first', 'second' could each be the labels.*--label COLUMN"):
        read_image_list(tmp_path / "list.csv", CLASSES)
    (tmp_path / "list.csv").write_text("file,kind\na.png,tram\n")
    with pytest.raises(DataError, match="has no column of labels.*--label COLUMN"):
        read_image_list(tmp_path / "list.csv", CLASSES)


def test_a_list_without_image_paths_or_whose_files_are_elsewhere_is_refused(tmp_path, gtsrb):
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="does not list image files"):
        read_image_list(tmp_path / "table.csv", None)
    moved = tmp_path / "elsewhere" / "Test.csv"
    moved.parent.mkdir()
    moved.write_text(gtsrb.read_text())
    with pytest.raises(DataError, match="none of the 4 files in its column 'Path' exists.*relative to the CSV's"):
        read_image_list(moved, None)
    (tmp_path / "Test" / "00001.png").unlink()  # one missing: predict says so on its row; evaluate refuses
    assert "1 of them not found" in read_image_list(gtsrb, None).notes[0]
    with pytest.raises(DataError, match="1 listed image\\(s\\) not found"):
        read_image_list(gtsrb, CLASSES)
