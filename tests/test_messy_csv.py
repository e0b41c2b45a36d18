"""A corpus of messy CSV files, the way people export them, each checked for the values read: the
numbers, the categories, the date parts, the columns kept and left out, and the notes that say so.
"No crash" is never enough here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnlab.data import dates, tabular
from nnlab.data.load import load_data
from nnlab.errors import DataError
from nnlab.spec.loader import load_spec


def read(tmp_path, content, *, options=None, na_values=(), encoding=None, name="d.csv"):
    """(the typed table, {column: Column}, notes) of a file, as `nnlab run` reads its features."""
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    notes: list[str] = []
    frame = tabular.read_csv(path, na_values, encoding=encoding, notes=notes)
    columns = tabular.column_types(frame, options or tabular.ReadOptions(), notes)
    return frame, {c.name: c for c in columns}, notes


def lines(header: str, rows) -> str:
    return header + "\n" + "\n".join(rows) + "\n"


def said(notes, *fragments) -> bool:
    return any(all(f in note for f in fragments) for note in notes)


# ------------------------------------------------------------------------------------ encodings


def test_utf8_with_a_byte_order_mark(tmp_path):
    frame, columns, notes = read(tmp_path, "\ufeffprice,city\n" + "".join(f"{i}.5,Oslo{i % 3}\n" for i in range(30)))
    assert list(frame.columns) == ["price", "city"] and frame["price"].iloc[2] == 2.5
    assert not said(notes, "UTF-8")


@pytest.mark.parametrize("first", ["\ufeffsep=;\r\n", "sep=;\n", "SEP=;;;\n", '"sep=;"\n'])
def test_excel_s_sep_line_names_the_separator_and_is_no_row(tmp_path, first):
    rows = "".join(f"{i},5;{i % 4};car{i % 3}\r\n" for i in range(40))
    frame, columns, notes = read(tmp_path, first + "mpg;cyl;name\r\n" + rows)
    assert list(frame.columns) == ["mpg", "cyl", "name"] and len(frame) == 40
    assert frame["mpg"].iloc[3] == 3.5 and said(notes, "sep=;", "';' as the separator")


def test_windows_1252_euros_and_umlauts(tmp_path):
    text = lines("price;city", [f"€{1 + i}.234,50;{['München', 'Köln'][i % 2]}" for i in range(30)])
    frame, columns, notes = read(tmp_path, text.encode("cp1252"))
    assert frame["price"].iloc[0] == 1234.5 and frame["price"].iloc[3] == 4234.5
    assert set(frame["city"]) == {"München", "Köln"} and columns["price"].kind == "numeric"
    assert said(notes, "not UTF-8: decoded as Windows-1252") and said(notes, "'price'", "decimal ','")


def test_a_latin1_byte_after_64_kb_of_ascii(tmp_path):
    body = "".join(f"{i},{i % 7},plain\n" for i in range(9000)) + "9000,3,caf\xe9\n"
    frame, _, notes = read(tmp_path, ("a,b,c\n" + body).encode("latin-1"))
    assert len(frame) == 9001 and "café" in set(frame["c"])
    assert said(notes, "decoded as Windows-1252")


def test_bytes_windows_1252_lacks_fall_back_to_latin1(tmp_path):
    frame, _, notes = read(tmp_path, b"a,b\n1,x\x81y\n2,z\n")
    assert frame["b"].iloc[0] == "x\x81y" and said(notes, "decoded as Latin-1")


def test_data_encoding_reads_utf16(tmp_path):
    text = lines("x,label", [f"{i * 0.5},{'ja' if i % 2 else 'nein'}" for i in range(30)])
    frame, _, _ = read(tmp_path, text.encode("utf-16"), encoding="utf-16")
    assert frame["x"].iloc[3] == 1.5 and set(frame["label"]) == {"ja", "nein"}


def test_a_wrong_data_encoding_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="is not utf-8: byte 7"):
        read(tmp_path, "a,b\n1,M\xfcnchen\n".encode("cp1252"), encoding="utf-8")


@pytest.mark.parametrize("name, pack", [
    ("bikes.csv.gz", lambda b: __import__("gzip").compress(b)),
    ("bikes.csv.bz2", lambda b: __import__("bz2").compress(b)),
    ("bikes.csv.xz", lambda b: __import__("lzma").compress(b)),
    ("bikes.zip", None),
])
def test_a_compressed_file_is_read_through_with_a_note(tmp_path, name, pack):
    import io
    import zipfile

    text = lines("temp;count", [f"{i},5;{i * 10}" for i in range(30)]).encode("cp1252")
    if pack is None:  # a zip made on a Mac: one CSV, and its metadata
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("bikes/day.csv", text)
            archive.writestr("__MACOSX/bikes/._day.csv", b"\x00\x05\x16\x07")
        content = buffer.getvalue()
    else:
        content = pack(text)
    frame, _, notes = read(tmp_path, content, name=name)
    assert frame["temp"].iloc[3] == 3.5 and frame["count"].iloc[3] == 30  # (then decoded and split as a CSV)
    assert said(notes, name, "compressed: read decompressed") or said(notes, "read bikes/day.csv from it")


def test_workbooks_binary_tables_and_zips_of_several_files_are_refused_with_what_to_do(tmp_path):
    import io
    import zipfile

    for name, files in (("book.xlsx", {"[Content_Types].xml": "", "xl/workbook.xml": ""}),
                        ("two.zip", {"a.csv": "x,y\n1,2\n", "b.csv": "x,y\n1,2\n"})):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for member, body in files.items():
                archive.writestr(member, body)
        (tmp_path / name).write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match=r"book.xlsx is an Excel workbook \(.xlsx\), not a CSV file: save it as CSV"):
        tabular.read_csv(tmp_path / "book.xlsx")
    with pytest.raises(DataError, match=r"two.zip is a zip file holding 2 CSV files \(a.csv, b.csv\): unzip it"):
        tabular.read_csv(tmp_path / "two.zip")
    for name, magic, what in (("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel workbook \\(.xls\\)"),
                              ("t.parquet", b"PAR1", "a Parquet file")):
        (tmp_path / name).write_bytes(magic + bytes(40))
        with pytest.raises(DataError, match=f"{name} is {what}, not a CSV file.*nnlab.run\\(spec, data=frame\\)"):
            tabular.read_csv(tmp_path / name)
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + bytes(10))
    with pytest.raises(DataError, match="bad.gz is gzip-compressed but cannot be decompressed"):
        tabular.read_csv(tmp_path / "bad.gz")


def test_a_header_repeated_inside_the_file_is_left_out_and_a_repeated_name_is_said(tmp_path):
    part = [f"{i},{i % 2}" for i in range(30)]
    frame, columns, notes = read(tmp_path, lines("x,Y", part + ["x,y"] + part))  # two files joined end to end
    assert len(frame) == 60 and set(frame["Y"]) == {0, 1} and columns["x"].kind == "numeric"
    assert said(notes, "1 row(s) repeating the column names (data row 31") and not said(notes, "written like")
    frame, _, notes = read(tmp_path, lines("x,Y,", [f"{i},{i % 2}," for i in range(30)] + ["x,Y,"]))  # Excel's
    assert len(frame) == 30 and list(frame.columns) == ["x", "Y"] and said(notes, "repeating the column names")
    frame, _, notes = read(tmp_path, lines("age,age,y", [f"{20 + i},{i % 7},{i % 2}" for i in range(30)]))
    assert list(frame.columns) == ["age", "age.1", "y"] and said(notes, "two columns are named 'age'", "'age.1'")


# ------------------------------------------------------------------------------------ separators and quoting


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_separators_are_detected(tmp_path, sep):
    rows = [sep.join([f"{i},5", "x", f"{i}"]) for i in range(30)]
    frame, _, _ = read(tmp_path, lines(sep.join(["a", "b", "c"]), rows))
    assert list(frame.columns) == ["a", "b", "c"]
    if sep == ";":
        assert frame["a"].iloc[4] == 4.5  # decimal commas where ; separates


def test_quoted_cells_with_commas_and_line_breaks(tmp_path):
    rows = [f'{i * 1.5},"Smith, John\nJr.",{i % 2}' for i in range(25)]
    frame, _, _ = read(tmp_path, lines("x,name,y", rows))
    assert len(frame) == 25 and frame["name"].iloc[0] == "Smith, John\nJr."


def test_excel_leftovers_empty_columns_and_rows_and_padded_names(tmp_path):
    rows = [f"{i * 0.25}, red ,{i % 2},," for i in range(30)] + [",,,,", ",,,,"]
    frame, columns, notes = read(tmp_path, lines("  size , colour ,y,,", rows))
    assert list(frame.columns) == ["size", "colour", "y"] and len(frame) == 30
    assert set(frame["colour"]) == {"red"}  # trimmed cells
    assert said(notes, "2 empty column(s) without a name") and said(notes, "2 empty row(s) were dropped")


# ------------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize("written, expected", [
    (["$1,234.50", "$12.00", "$999,999.99"], [1234.5, 12.0, 999999.99]),
    (["€1.234,50", "€12,00", "€3,5"], [1234.5, 12.0, 3.5]),
    (["1\u00a0234,50", "12,25", "3\u00a0000\u00a0000,00"], [1234.5, 12.25, 3000000.0]),
    (["1\u202f234,5", "7,25", "8,5"], [1234.5, 7.25, 8.5]),
    (["1'234.50", "12.5", "3'000"], [1234.5, 12.5, 3000.0]),
    (["¥1,200", "¥35,000", "¥12"], [1200.0, 35000.0, 12.0]),
    (["₹3,45,000", "₹1,200.5", "₹7"], [345000.0, 1200.5, 7.0]),
    (["£5.99", "£12.50", "£0.99"], [5.99, 12.5, 0.99]),
    (["16%", "3.5%", "100 %"], [16.0, 3.5, 100.0]),
    (["(1,234.00)", "2,000.50", "(5)"], [-1234.0, 2000.5, -5.0]),
    (["3,5", "10,25", "-1,5"], [3.5, 10.25, -1.5]),
    (["+5", "\u22122.5", "- 3"], [5.0, -2.5, -3.0]),
    (["1.234.567", "2.000", "3.500.000"], [1234567.0, 2000.0, 3500000.0]),
    (["1e-3", "2.5E4", "7"], [0.001, 25000.0, 7.0]),
])
def test_numbers_as_people_write_them(tmp_path, written, expected):
    rows = [f'"{written[i % len(written)]}",{i % 2}' for i in range(30)]
    frame, columns, _ = read(tmp_path, lines("amount,y", rows))
    assert columns["amount"].kind == "numeric"
    assert frame["amount"].iloc[:3].tolist() == pytest.approx(expected)


def test_an_ambiguous_column_says_so_and_the_overrides_decide(tmp_path):
    rows = [f'"{["1,234", "12,500", "7,000"][i % 3]}",{i % 2}' for i in range(30)]
    frame, _, notes = read(tmp_path, lines("amount,y", rows))
    assert frame["amount"].iloc[0] == 1234.0
    assert said(notes, "'amount'", "could be read two ways", "data.decimal")
    frame, _, notes = read(tmp_path, lines("amount,y", rows), options=tabular.ReadOptions(decimal=","))
    assert frame["amount"].iloc[:3].tolist() == [1.234, 12.5, 7.0] and not said(notes, "two ways")


def test_a_point_thousands_override(tmp_path):
    rows = [f'{["1.234", "2.500"][i % 2]},{i % 2}' for i in range(30)]
    frame, _, notes = read(tmp_path, lines("amount,y", rows))
    assert frame["amount"].iloc[0] == 1.234 and said(notes, "two ways")
    frame, _, _ = read(tmp_path, lines("amount,y", rows), options=tabular.ReadOptions(decimal=",", thousands="."))
    assert frame["amount"].iloc[:2].tolist() == [1234.0, 2500.0]


def test_plain_numbers_need_no_note(tmp_path):
    frame, _, notes = read(tmp_path, lines("a,b", [f"{i * 0.5},{i % 3}" for i in range(30)]))
    assert frame["a"].iloc[3] == 1.5 and not [n for n in notes if "'a'" in n]


# ------------------------------------------------------------------------------------ missing values


@pytest.mark.parametrize("spelling", ["--", "?", "—", "#N/A", "NULL", "None", "n/a", "-", "#DIV/0!", "NaN", ""])
def test_spellings_of_missing_among_numbers(tmp_path, spelling):
    rows = [f"{spelling if i % 10 == 0 else i * 0.5},{i % 2}" for i in range(40)]
    frame, columns, notes = read(tmp_path, lines("hp,y", rows))
    assert columns["hp"].kind == "numeric" and frame["hp"].isna().sum() == 4
    assert frame["hp"].median() == pytest.approx(np.median([i * 0.5 for i in range(40) if i % 10]))
    if spelling:
        assert said(notes, "'hp'", repr(spelling), "read as missing")


def test_the_specs_own_na_values_and_stray_words(tmp_path):
    rows = [f"{-999 if i == 3 else ('unknown' if i == 5 else i * 2.0)},{i % 2}" for i in range(40)]
    frame, columns, notes = read(tmp_path, lines("hp,y", rows), na_values=["-999"])
    assert columns["hp"].kind == "numeric" and np.isnan(frame["hp"].iloc[3]) and np.isnan(frame["hp"].iloc[5])
    assert said(notes, "'-999' (1) read as missing") and said(notes, "text values 'unknown' taken as missing")


# ------------------------------------------------------------------------------------ dates


def parts(frame, columns, name):
    return columns[name].date_format.part_values(frame[name])


def test_seoul_bike_day_first_dates(tmp_path):
    rows = [f"{1 + i % 28:02d}/12/2017,{i % 24},{i}" for i in range(56)]
    frame, columns, notes = read(tmp_path, lines("Date,Hour,count", rows))
    found = parts(frame, columns, "Date")
    assert columns["Date"].date_format.dayfirst and "month" not in found and "year" not in found
    assert found["day"].iloc[:3].tolist() == [1.0, 2.0, 3.0] and found["day"].max() == 28
    assert said(notes, "'Date'", "read day first ('13/12/2017' seen)") and said(notes, "month", "left out")


def test_month_first_dates(tmp_path):
    rows = [f"12/{1 + i % 28:02d}/2017,{i}" for i in range(40)]
    frame, columns, notes = read(tmp_path, lines("when,n", rows))
    assert not columns["when"].date_format.dayfirst and parts(frame, columns, "when")["day"].max() == 28
    assert said(notes, "read month first ('12/13/2017' seen)")


def test_ambiguous_dates_default_month_first_and_dayfirst_decides(tmp_path):
    rows = [f"{1 + i % 12:02d}/{1 + i % 12:02d}/20{10 + i % 5},{i}" for i in range(40)]
    frame, columns, notes = read(tmp_path, lines("when,n", rows))
    assert not columns["when"].date_format.dayfirst and said(notes, "could be day first or month first")
    rows = [f"{1 + i % 12:02d}/0{1 + i % 3}/2015,{i}" for i in range(40)]  # 05/02/2015: 5 February if day first
    frame, columns, _ = read(tmp_path, lines("when,n", rows), options=tabular.ReadOptions(dayfirst=True))
    found = parts(frame, columns, "when")
    assert found["month"].iloc[4] == 2.0 and found["day"].iloc[4] == 5.0


def test_iso_dates_and_german_dates(tmp_path):
    frame, columns, _ = read(tmp_path, lines("d,n", [f"2017-{1 + i % 12:02d}-{1 + i % 28:02d},{i}" for i in range(40)]))
    assert parts(frame, columns, "d")["month"].iloc[:3].tolist() == [1.0, 2.0, 3.0]
    frame, columns, _ = read(tmp_path, lines("d,n", [f"{1 + i % 28:02d}.{1 + i % 12:02d}.2017,{i}" for i in range(40)]))
    found = parts(frame, columns, "d")
    assert columns["d"].date_format.dayfirst and found["day"].iloc[20] == 21.0 and found["month"].iloc[20] == 9.0


def test_timestamps_give_the_hour(tmp_path):
    rows = [f"2023-07-{1 + i // 24:02d}T{i % 24:02d}:00:00Z,{i}" for i in range(72)]
    frame, columns, notes = read(tmp_path, lines("time,rentals", rows))
    found = parts(frame, columns, "time")
    assert "hour" in found and "minute" not in found
    assert found["hour"].iloc[:3].tolist() == [0.0, 1.0, 2.0] and found["hour"].iloc[37] == 13.0
    assert said(notes, "'time'", "hour")


def test_one_offset_keeps_the_clock_and_mixed_offsets_read_in_utc(tmp_path):
    rows = [f"2023-07-01 {i % 24:02d}:30:00+09:00,{i}" for i in range(30)]
    frame, columns, _ = read(tmp_path, lines("t,n", rows))
    assert parts(frame, columns, "t")["hour"].iloc[14] == 14.0
    rows = [f"2023-07-01 10:{i % 60:02d}:00{'+02:00' if i % 2 else '+00:00'},{i}" for i in range(30)]
    frame, columns, notes = read(tmp_path, lines("t,n", rows))
    found = parts(frame, columns, "t")
    assert set(found["hour"]) == {8.0, 10.0} and said(notes, "different time zone offsets", "UTC")


def test_data_dates_forces_a_column_of_numbers(tmp_path):
    rows = [f"2017{1 + i % 12:02d}{1 + i % 28:02d},{i}" for i in range(40)]
    options = tabular.ReadOptions(dates=["day"])
    frame, columns, notes = read(tmp_path, lines("day,n", rows), options=options)
    assert columns["day"].kind == "date" and parts(frame, columns, "day")["month"].iloc[5] == 6.0
    assert said(notes, "'day' read as dates (data.dates)")


def test_new_data_reads_dates_the_way_training_did(tmp_path):
    rows = [f"{1 + i % 28:02d}/12/2017,{i % 3}" for i in range(56)]
    frame, columns, _ = read(tmp_path, lines("Date,y", rows))
    record = tabular.fit_preprocessing(frame, [columns["Date"]])
    new = pd.DataFrame({"Date": ["05/12/2017"]})  # alone it could be 12 May: read as training did
    value = tabular.apply_preprocessing(record, new)[0, 0]
    mean, std = record[0].parts["day"]
    assert value == pytest.approx((5 - mean) / std)


def test_old_style_date_records_still_apply():
    record = [{"name": "d", "type": "date", "parts": {"year": [2020.0, 1.0], "month": [6.0, 1.0], "day": [15.0, 1.0],
                                                       "weekday": [3.0, 1.0]}}]
    from nnlab.data.preparation import column_from_json

    x = tabular.apply_preprocessing([column_from_json(c) for c in record], pd.DataFrame({"d": ["2021-07-16"]}))
    assert x.tolist() == [[1.0, 1.0, 1.0, 1.0]]


# ------------------------------------------------------------------------------------ identifiers and kept columns


@pytest.mark.parametrize("name, values", [
    ("PassengerId", lambda n: [str(i + 1) for i in range(n)]),
    ("customer_id", lambda n: [str(v) for v in np.random.default_rng(0).choice(10**6, n, replace=False)]),
    ("Unnamed: 0", lambda n: [str(i) for i in range(n)]),
    ("row", lambda n: [str(v) for v in np.random.default_rng(1).permutation(n) + 100]),
])
def test_identifier_columns_are_left_out(tmp_path, name, values):
    n = 60
    rows = [f"{v},{i * 0.5},{i % 2}" for i, v in enumerate(values(n))]
    frame, columns, notes = read(tmp_path, lines(f'"{name}",x,y', rows))
    assert name not in columns and "x" in columns
    assert said(notes, repr(name), "row numbers or an identifier", "data.keep keeps it")
    frame, columns, _ = read(tmp_path, lines(f'"{name}",x,y', rows), options=tabular.ReadOptions(keep=[name]))
    assert columns[name].kind == "numeric"


def test_text_identifiers_and_free_text_are_left_out_unless_kept(tmp_path):
    rows = [f"a{i:05x}-{i * 7919 % 9973},comment number {i},{i % 2}" for i in range(40)]
    frame, columns, notes = read(tmp_path, lines("uid,remark,y", rows))
    assert "uid" not in columns and "remark" not in columns and said(notes, "'uid'", "identifier or free text")
    _, columns, _ = read(tmp_path, lines("uid,remark,y", rows), options=tabular.ReadOptions(keep=["remark"]))
    assert columns["remark"].kind == "categorical"


def test_constant_columns_left_out_unless_kept(tmp_path):
    rows = [f"7,x,{i * 0.5}" for i in range(30)]
    _, columns, notes = read(tmp_path, lines("k,s,y", rows))
    assert "k" not in columns and "s" not in columns and said(notes, "'k' has the same value in every row")
    _, columns, _ = read(tmp_path, lines("k,s,y", rows), options=tabular.ReadOptions(keep=["k"]))
    assert "k" in columns


# ------------------------------------------------------------------------------------ whole files through load_data


def load(write, text, *overrides, name="d.csv", encoding="utf-8"):
    write(name, text, encoding=encoding)
    spec = write("s.yaml", f"data: {{source: csv, path: {name}, target: y}}\nmodel: {{kind: mlp}}\n")
    return load_data(load_spec(spec, list(overrides)))


def test_label_variants_are_one_class(write):
    data = load(write, lines("x,y", [f"{i * 0.5},{['Yes', ' yes', 'YES', 'No', 'no '][i % 5]}" for i in range(50)]))
    assert data.class_names == ["No", "Yes"]
    assert sorted(np.bincount(np.concatenate([data.y_train, data.y_val]))) == [20, 30]


def test_bank_marketing_style_semicolons_quotes_and_unknown_category(write):
    jobs, answers = ["admin.", "blue-collar", "unknown"], ["yes", "no"]
    rows = [f'{30 + i % 40};"{jobs[i % 3]}";"{answers[i % 9 != 0]}"' for i in range(90)]
    data = load(write, lines('"age";"job";"y"', rows))
    record = {c.name: c for c in data.source.columns}
    assert record["job"].categories == ["admin.", "blue-collar", "unknown"]  # "unknown" is a category here
    assert 30 <= record["age"].median <= 69 and record["age"].format.decimal == "."
    assert data.class_names == ["no", "yes"]


def test_a_numeric_target_written_with_currency_is_regression(write):
    data = load(write, lines("rooms,y", [f'{i % 5},"${100000 + i * 1500:,}"' for i in range(60)]))
    assert data.task == "regression" and sorted(np.concatenate([data.y_train, data.y_val]))[1] == 101500.0


def test_a_huge_file_reads(write):
    rows = [f"{i % 97 * 0.5},{['a', 'b', 'c'][i % 3]},2017-{1 + i % 12:02d}-01,{i % 2}" for i in range(20000)]
    data = load(write, lines("x,c,d,y", rows))
    assert len(data.x_train) + len(data.x_val) == 20000 and "d.month" in data.source.features


def test_a_tiny_file_is_a_clear_error(write):
    with pytest.raises(DataError, match="has 1 row with a target; training and validating need at least 3"):
        load(write, "x,y\n1,a\n")


def test_the_preprocessing_records_the_reader_and_formats(write):
    data = load(write, lines("price,when,y", [f'"€{i},50",{1 + i % 28:02d}/12/2017,{i % 2}' for i in range(60)]))
    record = {c.name: c for c in data.source.columns}
    assert data.source.reader == 2
    assert record["price"].format.as_dict() == {"decimal": ",", "thousands": None}
    assert record["when"].format.dayfirst is True and "month" not in record["when"].format.parts


def test_dates_module_parses_offsets():
    assert dates.DateFormat(parts=["hour"]).part_values(pd.Series(["2023-01-01T05:00:00Z"]))["hour"].iloc[0] == 5.0
