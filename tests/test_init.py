"""`nnlab init`: a commented starting spec from a look at the data, which nnlab then accepts."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.spec.loader import load_spec

runner = CliRunner()


def test_csv_classification_with_a_rare_class(write, tmp_path):
    rows = ["id,age,city,joined,churn"] + [f"{i},{20 + i % 50},{['Oslo', 'Lima'][i % 2]},2024-01-{1 + i % 28:02d},"
                                           f"{'yes' if i % 10 == 0 else 'no'}" for i in range(300)]
    data = write("data/customers.csv", "\n".join(rows) + "\n")
    result = runner.invoke(app, ["init", "--data", str(data), "--output", str(tmp_path / "spec.yaml")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "spec.yaml").read_text()
    assert text.startswith("# A starting spec written by `nnlab init`")
    assert "target: 'churn' (the last column" in text and "objective: val_auc" in text  # two classes, one rare
    assert "class_weight: {choice: [none, balanced]}" in text and "metrics: [auc, f1]" in text
    spec = load_spec(tmp_path / "spec.yaml")
    assert spec.name == "customers" and spec.data.target == "churn" and spec.model.kind == "mlp"
    assert spec.data.path == data.resolve()
    assert "id" in result.output  # the id column is named as dropped
    assert spec.data.folds is None  # 300 rows: one validation split


def test_regression_target_chosen_and_existing_file_kept(write, tmp_path):
    data = write("houses.csv", "price,rooms,area\n" + "\n".join(f"{100 + i * 3.5},{i % 5},{50 + i}" for i in range(80)))
    out = tmp_path / "houses.yaml"
    result = runner.invoke(app, ["init", "--data", str(data), "--target", "PRICE", "-o", str(out)])
    assert result.exit_code == 0, result.output
    spec = load_spec(out)
    assert spec.data.task == "regression" and spec.search.objective == "val_r2" and spec.data.target == "price"
    assert spec.data.target_transform == "none"  # an even spread of prices: fitted as it is
    assert spec.search.max_trials is None and spec.search.max_minutes == 10  # a time budget, not a trial count
    assert spec.data.folds == 5 and "fewer than 300 rows" in out.read_text()  # 80 rows: selection by 5-fold CV
    assert spec.search.pruning == "median"
    before = out.read_text()
    result = runner.invoke(app, ["init", "--data", str(data), "-o", str(out)])
    assert result.exit_code == 2 and "exists" in result.output and out.read_text() == before
    result = runner.invoke(app, ["init", "--data", str(data), "--target", "size", "-o", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2 and "size" in result.output and not (tmp_path / "x.yaml").exists()


def test_the_data_is_given_as_an_argument_or_with_data(write, tmp_path):
    data = write("houses.csv", "rooms,price\n" + "\n".join(f"{i % 5},{100 + i * 3.5}" for i in range(80)))
    result = runner.invoke(app, ["init", str(data), "-o", str(tmp_path / "a.yaml")])
    assert result.exit_code == 0, result.output
    assert load_spec(tmp_path / "a.yaml").data.target == "price"
    other = str(tmp_path / "other.csv")
    result = runner.invoke(app, ["init", str(data), "--data", other, "-o", str(tmp_path / "b.yaml")])
    assert result.exit_code == 2 and "two data paths" in result.output and not (tmp_path / "b.yaml").exists()
    result = runner.invoke(app, ["init", "https://x.org/houses.csv", "-o", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2 and "https://x.org/houses.csv is a web address" in result.output
    result = runner.invoke(app, ["init", "-o", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2 and "nnlab init DATA" in result.output and not (tmp_path / "c.yaml").exists()


def test_image_folder_and_npz(image_folder, tmp_path):
    folder = image_folder(n_per_class=5, classes=("cat", "dog", "owl"), size=(40, 30))
    result = runner.invoke(app, ["init", "--data", str(folder), "-o", str(tmp_path / "img.yaml")])
    assert result.exit_code == 0, result.output
    spec = load_spec(tmp_path / "img.yaml")
    assert spec.model.kind == "cnn" and tuple(spec.data.image_size) == (32, 32) and spec.data.source == "images"
    assert "3 classes, 15 images" in result.output
    np.savez(tmp_path / "a.npz", x=np.zeros((50, 8, 8)), y=np.arange(50) % 3)
    result = runner.invoke(app, ["init", "--data", str(tmp_path / "a.npz"), "-o", str(tmp_path / "a.yaml")])
    assert result.exit_code == 0
    assert load_spec(tmp_path / "a.yaml").model.kind == "cnn"
    result = runner.invoke(app, ["init", "--data", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "m.yaml")])
    assert result.exit_code == 2 and "not found" in result.output


def test_a_target_that_looks_like_names_or_ids_is_refused(tmp_path):
    from pathlib import Path

    mpg = Path(__file__).parent.parent / "configs" / "data" / "mpg.csv"  # its last column is the car's name
    out = tmp_path / "mpg.yaml"
    result = runner.invoke(app, ["init", "--data", str(mpg), "-o", str(out)])
    assert result.exit_code == 2 and not out.exists()
    assert "The last column, 'name', would be the target" in result.output
    assert "--target COLUMN" in result.output and "mpg, cylinders" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["init", "--data", str(mpg), "--target", "mpg", "-o", str(out)])
    assert result.exit_code == 0 and load_spec(out).data.target == "mpg"


def test_a_row_number_column_is_dropped_in_the_starting_spec(write, tmp_path):
    from nnlab.data.load import load_data

    rows = ["id,size,price"] + [f"{1000 + i},{i % 7},{10 + (i * 37) % 50}.5" for i in range(300)]
    data = write("shop.csv", "\n".join(rows) + "\n")
    out = tmp_path / "shop.yaml"
    result = runner.invoke(app, ["init", "--data", str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "drop: [id]" in out.read_text() and "looks like a row number" in result.output
    assert load_data(load_spec(out)).source.features == ["size"]


def test_paths_and_names_that_yaml_would_misread_are_quoted(write, tmp_path):
    rows = ["size: cm,colour #,price"] + [f"{i % 9},{['red', 'blue'][i % 2]},{i * 1.5}" for i in range(60)]
    data = write("my data: #1/shop list.csv", "\n".join(rows) + "\n")
    out = tmp_path / "spec.yaml"
    result = runner.invoke(app, ["init", "--data", str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    spec = load_spec(out)
    assert spec.data.path == data.resolve() and spec.data.target == "price" and spec.name == "shop-list"


def test_several_rare_classes_get_macro_f1(write, tmp_path):
    rows = ["x,kind"] + [f"{i * 0.5},{'a' if i % 20 else ('b' if i % 40 else 'c')}" for i in range(400)]
    data = write("k.csv", "\n".join(rows) + "\n")
    result = runner.invoke(app, ["init", "--data", str(data), "-o", str(tmp_path / "k.yaml")])
    assert result.exit_code == 0, result.output
    spec = load_spec(tmp_path / "k.yaml")
    assert spec.search.objective == "val_f1" and spec.train.metrics == ["f1"]
    assert spec.train.class_weight.values() == ["none", "balanced"]


def test_a_positive_skewed_target_gets_the_log_or_none_choice_and_init_says_why(write, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    rows = [f"{a:.3f},{20 * np.exp(1.2 * a + 0.3 * rng.normal()):.2f}" for a in x]
    data = write("energy.csv", "temp,energy\n" + "\n".join(rows) + "\n")
    result = runner.invoke(app, ["init", "--data", str(data), "-o", str(tmp_path / "e.yaml")])
    assert result.exit_code == 0, result.output
    assert "positive and skewed (skewness" in result.output
    assert load_spec(tmp_path / "e.yaml").data.target_transform == "auto"


def test_the_run_is_named_after_the_data_or_the_folder_above_a_generic_name(tmp_path):
    from nnlab.tools.starter import run_name

    for relative in ("titanic/train.csv", "gtsrb/Train", "bikes/data/train.csv", "my data/houses.csv"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        if relative.endswith(".csv"):
            (tmp_path / relative).write_text("a\n1\n")
        else:
            (tmp_path / relative).mkdir()
    assert run_name(tmp_path / "titanic/train.csv") == "titanic"
    assert run_name(tmp_path / "gtsrb/Train") == "gtsrb"
    assert run_name(tmp_path / "bikes/data/train.csv") == "bikes"
    assert run_name(tmp_path / "my data/houses.csv") == "houses"


def test_rows_without_a_target_are_counted_out_as_a_run_reads_them(write, tmp_path):
    rows = "\n".join(f"{i % 5},{'' if i % 25 == 0 else 100 + i * 3.5}" for i in range(200))
    data = write("houses.csv", "rooms,price\n" + rows + "\n")
    result = runner.invoke(app, ["init", str(data), "-o", str(tmp_path / "h.yaml")])
    assert result.exit_code == 0, result.output
    assert "houses.csv: 192 rows" in result.output and "8 row(s) without a 'price' value were left out" in result.output
    assert load_spec(tmp_path / "h.yaml").data.folds == 5  # (192 rows with a target: below 300)


def _bikes(write, rows: int = 120):
    rng = np.random.default_rng(3)
    lines = ["instant,dteday,temp,weather,casual,registered,cnt"]
    for i in range(rows):
        casual, registered = int(rng.integers(0, 300)), int(rng.integers(100, 900))
        lines.append(f"{i + 1},2011-01-{1 + i % 28:02d},{rng.uniform(0, 35):.2f},{['clear', 'mist', 'rain'][i % 3]},"
                     f"{casual},{registered},{casual + registered}")
    return write("bikes/day.csv", "\n".join(lines) + "\n")


def test_columns_that_add_up_to_the_target_are_left_out_with_a_note(write, tmp_path):
    """The rental pattern: casual + registered = cnt in every row, so they give the answer away."""
    from nnlab.data.load import load_data

    data = _bikes(write)
    out = tmp_path / "bikes.yaml"
    result = runner.invoke(app, ["init", str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "'casual' and 'registered' add up to the target 'cnt' in every row" in result.output
    spec = load_spec(out)
    assert spec.data.target == "cnt" and {"casual", "registered", "instant"} <= set(spec.data.drop)
    features = load_data(spec).source.features  # (the spec reads, without them)
    assert features and not any(f.split("=")[0] in ("casual", "registered") for f in features)


def test_several_targets_from_the_command_line_in_both_forms(write, tmp_path):
    data = _bikes(write)
    for args in (["--target", "casual", "--target", "registered"], ["--target", "casual,registered"]):
        out = tmp_path / "two.yaml"
        result = runner.invoke(app, ["init", str(data), *args, "-o", str(out), "--force"])
        assert result.exit_code == 0, result.output
        spec = load_spec(out)
        assert spec.data.target == ["casual", "registered"] and spec.data.task is None
        assert "cnt" in spec.data.drop  # (it is their sum: it gives both away)
        assert "'cnt' equals the sum of the targets 'casual' and 'registered'" in result.output
        assert "targets: 'casual', 'registered' (one output each)" in out.read_text()
        assert spec.search.objective == "val_r2"  # (the mean of the heads' R²)
    result = runner.invoke(app, ["init", str(data), "--target", "cnt", "--target", "CNT", "-o", str(out), "--force"])
    assert result.exit_code == 2 and "names a column twice" in result.output


def test_a_column_equal_to_a_label_target_and_nearly_unique_names_are_left_out(write, tmp_path):
    rng = np.random.default_rng(4)
    rows = ["name,weight,origin,label,make_class"]
    for i in range(200):
        weight = rng.uniform(1500, 4500)
        label = "heavy" if weight > 3000 else "light"
        rows.append(f"car {i % 150},{weight:.0f},{['usa', 'japan', 'europe'][i % 3]},{label},{label.upper()}")
    data = write("cars.csv", "\n".join(rows) + "\n")
    out = tmp_path / "cars.yaml"
    result = runner.invoke(app, ["init", str(data), "--target", "label", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "'make_class' equals the target 'label'" in result.output
    assert "'name' is nearly unique text (150 different values in 200 rows" in result.output
    spec = load_spec(out)
    assert set(spec.data.drop) == {"make_class", "name"}


def test_no_column_is_left_out_when_none_gives_the_target_away(write, tmp_path):
    import pandas as pd

    from nnlab.tools.startercolumns import left_out

    rng = np.random.default_rng(5)
    features = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50), "c": np.zeros(50)})
    target = pd.DataFrame({"y": features["a"] + features["b"] + rng.normal(0, 0.1, 50)})
    assert left_out(features, target) == []  # (close to a sum is not a sum)
    exact = pd.DataFrame({"y": features["a"] + features["b"]})
    assert left_out(features, exact) == [(["a", "b"], "'a' and 'b' add up to the target 'y' in every row")]


def test_a_date_column_is_kept_though_every_row_has_its_own_date(write, tmp_path):
    """(Found by benchmarks/quality.py's weather-dayfirst: init dropped the dates as "nearly unique text".)"""
    rows = ["date,rain,temp"] + [f"{d % 28 + 1:02d}/{d // 28 % 12 + 1:02d}/{2012 + d // 336},{d % 7 * 0.5},{d % 30}"
                                 for d in range(300)]
    data = write("weather.csv", "\n".join(rows) + "\n")
    out = tmp_path / "w.yaml"
    result = runner.invoke(app, ["init", str(data), "--target", "temp", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "nearly unique" not in result.output and "date" not in load_spec(out).data.drop


def test_skewed_counts_get_the_poisson_loss_and_a_table_the_tabular_recipe(write, tmp_path):
    rng = np.random.default_rng(6)
    x = rng.normal(size=400)
    visits = rng.poisson(np.exp(0.8 * x + 0.3)) * rng.integers(1, 4, 400)  # few large counts: skewed
    data = write("visits.csv", "x,visits\n" + "".join(f"{a:.3f},{v}\n" for a, v in zip(x, visits)))
    out = tmp_path / "v.yaml"
    result = runner.invoke(app, ["init", str(data), "--target", "visits", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "holds counts (whole numbers, 0 or more) and is skewed" in result.output
    spec = load_spec(out)
    assert spec.train.loss == "poisson" and spec.data.target_transform == "none"
    assert spec.model.embedding == "piecewise" and spec.model.members == 8


def test_a_category_of_many_values_gets_a_column_each(write, tmp_path):
    rows = ["state,x,y"] + [f"s{i % 45},{i % 7},{(i % 45) * 0.5 + i % 7}" for i in range(450)]
    data = write("places.csv", "\n".join(rows) + "\n")
    out = tmp_path / "p.yaml"
    result = runner.invoke(app, ["init", str(data), "--target", "y", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert load_spec(out).data.categories == 45
    assert "# 'state' has 45 values: a column each" in out.read_text()


def _rentals(write, rows: int = 400):
    """An hourly rental file in time order: season and weathersit coded 1–4, a casual count of a small
    range, registered, and cnt their sum."""
    rng = np.random.default_rng(5)
    lines = ["dteday,hr,season,weathersit,temp,casual,registered,cnt"]
    effect = {1: 0.0, 2: 3.0, 3: 1.0, 4: 4.0}  # (up and down across the codes: kinds, not amounts)
    for i in range(rows):
        season, weather = 1 + (i // 100) % 4, 1 + int(rng.integers(0, 4))
        casual = min(19, int(rng.poisson(0.6 + effect[weather])))
        registered = int(rng.integers(10, 200))
        lines.append(f"2011-{1 + i // 40:02d}-{1 + (i // 2) % 20:02d},{i % 24},{season},{weather},"
                     f"{rng.uniform(0, 35):.2f},{casual},{registered},{casual + registered}")
    return write("rentals.csv", "\n".join(lines) + "\n")


def test_init_reads_small_skewed_counts_as_a_count_regression_and_takes_task_from_the_command_line(write, tmp_path):
    data, out = _rentals(write), tmp_path / "r.yaml"
    result = runner.invoke(app, ["init", str(data), "--target", "casual", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "the target 'casual' holds counts" in result.output and "not " in result.output
    spec = load_spec(out)
    assert spec.data.task == "regression" and spec.train.loss == "poisson"
    result = runner.invoke(app, ["init", str(data), "--target", "casual", "--task", "classification", "-o", str(out),
                                 "--force"])
    assert result.exit_code == 0, result.output
    assert load_spec(out).data.task == "classification"


def test_init_leaves_out_a_difference_giving_the_target_away_and_splits_a_series_by_time(write, tmp_path):
    data, out = _rentals(write), tmp_path / "r.yaml"
    result = runner.invoke(app, ["init", str(data), "--target", "casual", "-o", str(out)])
    assert "'cnt' minus 'registered' equals the target 'casual' in every row" in " ".join(result.output.split())
    spec = load_spec(out)
    assert {"cnt", "registered"} <= set(spec.data.drop)
    assert spec.data.split.by == "time" and spec.data.split.column == "dteday"
    assert spec.search.confirm == 3


def test_init_reads_integer_codes_as_categories_where_the_target_goes_up_and_down_across_them(write, tmp_path):
    data, out = _rentals(write), tmp_path / "r.yaml"
    result = runner.invoke(app, ["init", str(data), "--target", "casual", "-o", str(out)])
    text = " ".join(result.output.split())
    assert "column 'weathersit' holds 4 whole-number codes (1–4) and the target goes up and down" in text
    assert "weathersit" in load_spec(out).data.categorical


def test_init_says_when_many_rows_repeat_the_same_features_and_fits_several_count_targets_as_counts(write, tmp_path):
    rows = ["age,income,visits,stays"] + [f"{30 + i % 10},{1000 * (i % 10)},{i % 7},{i % 3}" for i in range(200)]
    data, out = write("people.csv", "\n".join(rows) + "\n"), tmp_path / "p.yaml"
    result = runner.invoke(app, ["init", str(data), "--target", "visits,stays", "--task", "regression", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "100% of the rows repeat another row's features exactly" in " ".join(result.output.split())
    assert load_spec(out).train.loss == "poisson"


def test_init_names_an_identifier_that_repeats_over_the_rows_as_a_group_to_split_by(write, tmp_path):
    rows = ["customer_id,age,spend"] + [f"{i % 40},{20 + i % 50},{(i * 13) % 97}" for i in range(300)]
    data, out = write("shop.csv", "\n".join(rows) + "\n"), tmp_path / "s.yaml"
    result = runner.invoke(app, ["init", str(data), "--target", "spend", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "data.split: {by: group, column: customer_id}" in " ".join(result.output.split())
