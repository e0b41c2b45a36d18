"""Large CSV files read fast and the same: columns of plain numbers read as numbers at once give what the
text rules give (values, column types, notes) on every kind of messy column; the steps that went once per
column work on blocks and distinct values; a CSV's rows read once per run (`runs/tablecache`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nnlab.data import csvfile, tabular
from nnlab.runs import imagecache, tablecache
from nnlab.spec.loader import load_spec

N = 300
COLUMNS = {  # a column's name: how its row i is written
    "thousands_point": lambda i: f"{1 + i % 998}.{100 + i % 899}",  # 1.234: could be 1234 (a note says so)
    "three_decimals": lambda i: f"{(i * 7.3) % 500:.3f}",  # some end in 0 and are written so: settled
    "ints_missing": lambda i: "" if i % 9 == 0 else str(i % 50),
    "ints_dotted": lambda i: "" if i % 9 == 0 else f"{i % 50}.000",
    "plus": lambda i: f"+{i % 13}",
    "infinity": lambda i: "inf" if i == 5 else str(i * 0.5),
    "truth": lambda i: "True" if i % 3 else "False",
    "nan_words": lambda i: "NaN" if i % 10 == 0 else ("NA" if i % 10 == 1 else str(i % 17)),
    "e_and_point": lambda i: "1.234" if i % 2 else "1e-4",  # 1e-4 has no point: the column stays ambiguous
    "zip": lambda i: f"0{1000 + i * 7 % 8999}",
    "id": lambda i: str(i + 1),
    "small": lambda i: str((i % 100) / 100),
    "percent": lambda i: f"{i % 100}%",
    "empty": lambda i: "",
    "constant": lambda i: "7",
    "dates": lambda i: f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}",
    "quoted": lambda i: f'"Doe, J{i % 40}"',
    "y": lambda i: str(i % 2),
}


def _read(path, numbers: bool):
    notes: list[str] = []
    frame = tabular.read_csv(path, notes=notes, numbers=numbers)
    columns = tabular.column_types(frame, tabular.ReadOptions(), notes)
    values = {c.name: (frame[c.name].to_numpy(float) if c.kind == "numeric" else frame[c.name].astype(str).tolist())
              for c in columns}
    return [(c.name, c.kind, c.number_format, c.date_format) for c in columns], values, notes


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_a_column_of_numbers_read_at_once_is_what_the_text_rules_make_of_it(tmp_path, name):
    path = tmp_path / "f.csv"
    path.write_text(f"{name},x,y\n" + "".join(f"{COLUMNS[name](i)},{i % 7 * 1.5},{i % 2}\n" for i in range(N)))
    assert _same(_read(path, numbers=True), _read(path, numbers=False))


def _same(got, want) -> bool:
    (typed, values, notes), (typed_, values_, notes_) = got, want
    assert typed == typed_ and notes == notes_
    for key in values_:
        assert np.array_equal(values[key], values_[key], equal_nan=True) if isinstance(values_[key], np.ndarray) \
            else values[key] == values_[key]
    return True


def test_every_kind_of_column_in_one_file_spaces_after_separators_and_repeated_headers(tmp_path):
    path = tmp_path / "all.csv"
    header = ", ".join(COLUMNS)
    rows = [header if i % 100 == 50 else ", ".join(f(i) for f in COLUMNS.values()) for i in range(N)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    assert _same(_read(path, numbers=True), _read(path, numbers=False))
    assert any("repeating the column names" in n for n in _read(path, numbers=True)[2])


def test_text_far_down_a_long_column_of_numbers_is_read_as_the_rules_read_it(tmp_path):
    path = tmp_path / "long.csv"  # (pandas reads a long file in chunks: one chunk numbers, another text)
    path.write_text("a,b,y\n" + "".join(f"{'?' if i > 119_990 else (i % 100) / 4},{i % 5},{i % 2}\n"
                                        for i in range(120_000)))
    assert _same(_read(path, numbers=True), _read(path, numbers=False))


def test_named_columns_stay_text_and_a_file_with_rows_longer_than_its_header_reads_as_before(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("code,y\n" + "".join(f"{i % 3}.50,{i % 2}\n" for i in range(30)))
    frame = csvfile.read_table(path, numbers=True, text_columns=["CODE"])
    assert frame["code"].tolist()[:2] == ["0.50", "1.50"]  # (a category named `1.50` stays `1.50`)
    assert pd.api.types.is_numeric_dtype(csvfile.read_table(path, numbers=True)["code"])
    rnames = tmp_path / "r.csv"  # (R's write.csv: a row name before each row, none in the header)
    rnames.write_text('"a","b"\n' + "".join(f'"{i + 1}",{i * 0.5},{i % 2}\n' for i in range(30)))
    assert csvfile.read_table(rnames, numbers=True).equals(csvfile.read_table(rnames))
    notes = []
    assert list(csvfile.read_table(rnames, notes=notes).columns) == ["a", "b"]
    assert notes == ["the rows of r.csv have 1 more field than its header (as R's write.csv writes row names): the "
                     "first field of each row read as a row name and left out"]


def test_old_mac_line_endings_are_read(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"a,b,y\r" + b"".join(f"{i},{i % 3}.5,{i % 2}\r".encode() for i in range(30)))
    frame = csvfile.read_table(path, numbers=True)
    assert list(frame.columns) == ["a", "b", "y"] and len(frame) == 30


def test_wide_numeric_blocks_are_prepared_as_column_by_column(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(0, 256, (50, 6)).astype(float), columns=list("abcdef"))
    frame.iloc[3, 2] = np.nan
    frame["t"] = ["x", "y"] * 25
    columns = tabular.column_types(frame, tabular.ReadOptions(), [])
    record = tabular.fit_preprocessing(frame, columns)
    x = tabular.apply_preprocessing(record, frame)
    for i, col in enumerate("abcdef"):
        values = frame[col].fillna(frame[col].median())
        assert record[i].median == frame[col].median() and np.isclose(record[i].std, values.std(ddof=0))
        assert np.allclose(x[:, i], ((values - values.mean()) / values.std(ddof=0)).to_numpy(), atol=1e-6)
    assert x[:, 6:].tolist() == [[1.0, 0.0], [0.0, 1.0]] * 25


# ------------------------------------------------------------------------------------ read once per run


@pytest.fixture(autouse=True)
def _every_file_kept(monkeypatch):
    monkeypatch.setattr(tablecache, "SMALLEST", 0)  # (the files here are small)


def _csv_spec(write, tmp_path, rows: int = 60, extra: str = ""):
    (tmp_path / "d.csv").write_text("x,when,kind,y\n" + "".join(
        f"{i * 0.37:.2f},2021-{1 + i % 12:02d}-{1 + i % 27:02d},{'abc'[i % 3]},{(i * 1.7) % 5:.1f}\n"
        for i in range(rows)))
    spec = f"data: {{source: csv, path: d.csv, target: y{extra}}}\nmodel: {{kind: mlp}}\n"
    return load_spec(write("spec.yaml", spec))


def test_a_csv_is_read_once_then_its_kept_rows_are_read_back_the_same(write, tmp_path):
    spec, runs = _csv_spec(write, tmp_path, extra=", test_split: 0.2"), tmp_path / "runs"
    first = imagecache.load(spec, runs)
    (copy,) = (runs / ".decoded").iterdir()
    assert (copy / "table.json").is_file() and not any("read from the copy" in n for n in first.notes)
    assert f"the rows read from d.csv kept in {copy} (0 MiB): later loads of this file read them instead (delete " \
           "the folder to read the file again)" in first.notes
    again = imagecache.load(spec, runs)
    assert f"d.csv read from the copy kept in {copy} (what an earlier load read; delete it to read the file " \
           "again)" in again.notes
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert again.preparation == first.preparation and again.summary() == first.summary()
    assert [n for n in again.notes if "read from the copy" not in n] == [n for n in first.notes if " kept in " not in n]


def test_a_changed_file_or_another_reading_of_it_is_read_again(write, tmp_path):
    spec, runs = _csv_spec(write, tmp_path), tmp_path / "runs"
    imagecache.load(spec, runs)
    spec = _csv_spec(write, tmp_path, rows=61)  # (the file changed: its old copy goes)
    notes = imagecache.load(spec, runs).notes
    assert "d.csv changed since it was last read: read again" in notes and len(list((runs / ".decoded").iterdir())) == 1
    other = _csv_spec(write, tmp_path, rows=61, extra=", validation_split: 0.3")
    assert len(imagecache.load(other, runs).x_val) == 19 and len(list((runs / ".decoded").iterdir())) == 2


@pytest.mark.parametrize("damage", ["truncated", "widths", "index"])
def test_a_damaged_copy_is_read_from_the_file_again_with_a_note(write, tmp_path, damage):
    spec, runs = _csv_spec(write, tmp_path), tmp_path / "runs"
    fresh = imagecache.load(spec, runs)
    (copy,) = (runs / ".decoded").iterdir()
    if damage == "truncated":
        (copy / "x_train.npy").write_bytes((copy / "x_train.npy").read_bytes()[:100])
    elif damage == "widths":
        np.save(copy / "x_val.npy", np.zeros((len(fresh.x_val), 2), np.float32))
    else:
        index = json.loads((copy / "table.json").read_text())
        index["preparation"]["columns"] = "nonsense"
        (copy / "table.json").write_text(json.dumps(index))
    again = imagecache.load(spec, runs)
    assert any(f"the rows kept in {copy}" in n and "read from the file again" in n for n in again.notes)
    assert np.array_equal(again.x_val, fresh.x_val) and again.preparation == fresh.preparation
    assert tablecache.read(copy, tablecache.identity(spec.data, spec.seed))[0] is not None  # (written anew)
