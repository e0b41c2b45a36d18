"""CSV quirks: BOMs, separators, '?' and empty cells, text columns, labels, dates, identifiers."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.data.load import load_data
from nnlab.data.tabular import apply_preprocessing, read_csv
from nnlab.errors import DataError
from nnlab.spec.loader import load_spec


def spec_for(write, csv_name: str, *extra: str):
    lines = [f"data: {{source: csv, path: {csv_name}, target: y}}", "model: {kind: mlp}"]
    return load_spec(write("spec.yaml", "\n".join(lines) + "\n"), list(extra))


def rows(n: int, fn) -> str:
    return "\n".join(fn(i) for i in range(n)) + "\n"


def test_bom_semicolons_padding_and_question_marks(write):
    body = rows(40, lambda i: f" {i % 7} ; {('?' if i % 10 == 0 else i * 1.5)} ; {'Yes' if i % 2 else 'No'}")
    path = write("d.csv", "\ufeffa ; b ; y\n" + body, encoding="utf-8")
    frame = read_csv(path, ["?"])
    assert list(frame.columns) == ["a", "b", "y"]
    assert frame["b"].isna().sum() == 4
    assert set(frame["y"]) == {"Yes", "No"}


def test_string_labels_become_class_indices_with_names_kept(write):
    write("d.csv", "x1,x2,y\n" + rows(60, lambda i: f"{i * 1.5},{i % 5},{'Cammeo' if i % 3 else 'Osmancik'}"))
    data = load_data(spec_for(write, "d.csv"))
    assert data.task == "classification" and data.class_names == ["Cammeo", "Osmancik"]
    assert set(np.unique(data.y_train)) == {0, 1}
    assert any("classification" in n for n in data.notes)


def test_integer_codes_are_classes_and_floats_are_regression(write):
    write("c.csv", "x,y\n" + rows(50, lambda i: f"{i * 1.5},{1 + i % 3}"))
    data = load_data(spec_for(write, "c.csv"))
    assert data.task == "classification" and data.class_names == [1, 2, 3]
    write("r.csv", "x,y\n" + rows(50, lambda i: f"{i * 1.5},{i * 0.37:.3f}"))
    data = load_data(spec_for(write, "r.csv"))
    assert data.task == "regression" and data.class_names is None
    write("r2.csv", "x,y\n" + rows(50, lambda i: f"{i * 1.5},{1 + i % 3}"))
    assert load_data(spec_for(write, "r2.csv", "data.task=regression")).task == "regression"


def test_numbers_stored_as_text_with_stray_values_become_numeric(write):
    write("d.csv", "hp,y\n" + rows(40, lambda i: f"{'unknown' if i == 3 else i},{i * 0.5}"))
    data = load_data(spec_for(write, "d.csv"))
    assert data.x_train.shape[1] == 1
    assert any("'unknown'" in n for n in data.notes)


def test_text_columns_one_hot_dates_expand_and_identifiers_are_dropped(write):
    body = rows(40, lambda i: f"id{i},{['red', 'blue', ''][i % 3]},2021-0{1 + i % 9}-1{i % 9},{i},{i * 0.1}")
    write("d.csv", "uid,colour,when,n,y\n" + body)
    data = load_data(spec_for(write, "d.csv"))
    names = data.source.features
    assert "colour=red" in names and "colour=blue" in names and "colour=missing" in names
    assert "when.month" in names and "when.year" not in names  # every row in 2021: left out, with a note
    assert any("'when'" in n and "year never changes: left out" in n for n in data.notes)
    assert not any(n.startswith("uid") for n in names)
    assert any("identifier" in n for n in data.notes)
    assert np.isfinite(data.x_train).all() and data.x_train.dtype == np.float32


def test_statistics_come_from_training_rows_only(write):
    write("d.csv", "x,y\n" + rows(50, lambda i: f"{i * 1.5},{i * 0.3:.2f}"))
    data = load_data(spec_for(write, "d.csv"))
    column = data.source.columns[0]
    train_rows = np.sort(data.x_train[:, 0] * column.std + column.mean)
    assert column.mean == pytest.approx(train_rows.mean())
    assert abs(data.x_train[:, 0].mean()) < 1e-5  # standardized on its own statistics
    assert len(data.x_val) == 10


def test_categorical_numeric_column_and_unseen_categories(write):
    write("d.csv", "origin,y\n" + rows(40, lambda i: f"{1 + i % 3},{i * 0.2}"))
    data = load_data(spec_for(write, "d.csv", "data.categorical=[origin]"))
    assert data.source.features == ["origin=1", "origin=2", "origin=3"]
    import pandas as pd

    unseen = apply_preprocessing(data.source.columns, pd.DataFrame({"origin": [2, 9]}))
    assert unseen.tolist() == [[0, 1, 0], [0, 0, 0]]


def test_rows_without_a_target_are_dropped_with_a_note(write):
    write("d.csv", "x,y\n" + rows(30, lambda i: f"{i * 1.5},{'' if i % 10 == 0 else i * 0.5}"))
    data = load_data(spec_for(write, "d.csv"))
    assert len(data.x_train) + len(data.x_val) == 27
    assert any("without a 'y' value" in n for n in data.notes)


@pytest.mark.parametrize("content, expected", [
    ("", "empty"),
    ("x,y\n", "header but no rows"),
    ("x,z\n1,2\n3,4\n", "'y' is not in"),
    ("x,y\n1,\n2,\n", "empty in every row"),
    ("x,y\n" + "".join(f"{i},a\n" for i in range(20)), "single class"),
])
def test_unusable_csvs_get_clear_errors(write, content, expected):
    write("d.csv", content)
    with pytest.raises(DataError, match=expected):
        load_data(spec_for(write, "d.csv"))


def test_target_name_suggestion_and_missing_file(write):
    write("d.csv", "x,Price\n1,2\n3,4\n")
    with pytest.raises(DataError, match="did you mean `Price`"):
        load_data(spec_for(write, "d.csv", "data.target=prize"))
    with pytest.raises(DataError, match="not found"):
        load_data(spec_for(write, "missing.csv"))


def test_mpg_example_reads_as_the_issue_describes():
    spec = load_spec("configs/mpg-mlp.yaml")
    data = load_data(spec)
    assert data.task == "regression" and data.input_shape == (9,)
    assert len(data.x_train) + len(data.x_val) == 398
    assert "origin=1" in data.source.features


def test_currency_percent_thousands_and_decimal_commas_are_numbers(write):
    body = rows(40, lambda i: f'"${1000 + i * 25:,}";{i % 30}%;"{i},5";{i % 7}')
    write("d.csv", "price;discount;ratio;y\n" + body)
    data = load_data(spec_for(write, "d.csv", "data.target=price"))
    assert data.task == "regression"
    assert data.source.features == ["discount", "ratio", "y"]
    import pandas as pd

    from nnlab.data.numbers import parse_column

    assert parse_column(pd.Series(["3,5", "10,25", "-1,5"]))[0].tolist() == [3.5, 10.25, -1.5]
    assert parse_column(pd.Series(["1,234", "$12,000.50", " 16% "]))[0].tolist() == [1234, 12000.5, 16]
    assert parse_column(pd.Series(["1.234,5", "2.000,25"]))[0].tolist() == [1234.5, 2000.25]


def test_latin1_crlf_file_with_case_variants(write, tmp_path):
    lines = ["Ville,Meublé,y"] + [f"{['Genève', 'Zürich'][i % 2]},{['Yes', 'yes', 'No'][i % 3]},{i % 2}"
                                 for i in range(30)]
    (tmp_path / "d.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    data = load_data(spec_for(write, "d.csv"))
    features = data.source.features
    assert "Ville=Genève" in features and len([f for f in features if f.lower().startswith("meublé=y")]) == 1
    assert any("differ only in case" in n for n in data.notes)


def test_a_target_with_a_class_per_row_gets_a_warning_note(write):
    write("d.csv", "x,y\n" + rows(40, lambda i: f"{i % 4},code{i}"))
    data = load_data(spec_for(write, "d.csv"))
    assert any("if it is a quantity" in n for n in data.notes)


def test_row_numbers_and_numeric_identifiers_are_recognised():
    import pandas as pd

    from nnlab.data.tabular import looks_like_row_number, unlikely_target

    counting = pd.Series(range(1000, 1300))
    shuffled = pd.Series(np.random.default_rng(0).permutation(300) + 1)
    assert looks_like_row_number(counting, "n") and looks_like_row_number(shuffled, "row_order")
    ids = pd.Series(np.random.default_rng(1).choice(10**6, 300, replace=False))
    assert looks_like_row_number(ids, "PassengerId") and looks_like_row_number(ids, "customer_id")
    assert not looks_like_row_number(ids, "population")  # unique whole numbers, but neither counting nor named
    assert not looks_like_row_number(pd.Series(np.arange(300) % 50), "id")  # repeats: a code, not an id
    assert not looks_like_row_number(pd.Series(np.arange(300) + 0.5), "id")
    assert not looks_like_row_number(pd.Series(range(10)), "id")  # too few rows to tell
    assert unlikely_target(counting, "n") and not unlikely_target(pd.Series(np.arange(300) % 3), "class")
    assert unlikely_target(pd.Series([f"car {i % 200}" for i in range(300)]), "name")


def test_a_row_number_column_is_left_out_with_a_note_unless_kept(write):
    write("d.csv", "id,x,y\n" + "\n".join(f"{1000 + i},{i % 9},{i % 2}" for i in range(300)) + "\n")
    spec = write("s.yaml", "data: {source: csv, path: d.csv, target: y}\nmodel: {kind: mlp}\n")
    data = load_data(load_spec(spec))
    assert data.source.features == ["x"]
    assert any("'id' looks like row numbers or an identifier (unique whole numbers 1000 to 1299): left out; "
               "data.keep keeps it" in n for n in data.notes)
    kept = load_data(load_spec(spec, ["data.keep=[id]"]))
    assert kept.source.features == ["id", "x"]


def test_several_targets_load_as_one_column_each(write):
    from nnlab.errors import SpecError
    from nnlab.spec.objectives import check_task

    rows = [f"{i * 0.5},{i % 4},{i * 2.5 + 1},{['x', 'y'][i % 2]}" for i in range(60)]
    write("b.csv", "temp,hour,count,kind\n" + "\n".join(rows) + "\n")
    spec = write("s.yaml", "data: {source: csv, path: b.csv, target: [count, kind]}\nmodel: {kind: mlp}\n"
                           "search: {objective: val_count_loss}\n")
    data = load_data(load_spec(spec))
    assert [(t.name, t.task, t.class_names) for t in data.targets] == [("count", "regression", None),
                                                                      ("kind", "classification", ["x", "y"])]
    assert data.y_train.shape[1] == 2 and data.task == "mixed" and data.source.features == ["temp", "hour"]
    assert "2 targets: count (regression), kind (2 classes)" in data.summary()
    loaded = load_spec(spec)
    check_task(loaded, data.task, data.heads)  # the per-target objective is known
    with pytest.raises(SpecError, match="class weights apply to one target"):
        check_task(load_spec(spec, ["train.class_weight=balanced"]), data.task, data.heads)
    with pytest.raises(SpecError, match="did you mean `val_count_loss`"):
        load_spec(spec, ["search.objective=val_cont_loss"])


def test_data_categories_sets_how_many_values_get_a_column_and_a_note_says_when_some_share_other(tmp_path):
    from nnlab.data.load import load_data
    from nnlab.spec.loader import spec_from_dict

    states = [f"s{i % 40}" for i in range(400)]
    (tmp_path / "t.csv").write_text("state,x,y\n" + "".join(f"{s},{i % 7},{i % 3}\n" for i, s in enumerate(states)))
    for most, width in ((30, 31), (50, 40)):
        spec = spec_from_dict({"name": "c", "data": {"source": "csv", "path": str(tmp_path / "t.csv"), "target": "y",
                                                     "task": "regression", "categories": most},
                               "model": {"kind": "mlp"}})
        data = load_data(spec)
        column = data.source.columns[0]
        assert len(column.categories) + column.other == width
        said = any("'state' has 40 values: the 30 most frequent" in n for n in data.notes)
        assert said == (most == 30)
