"""data.split (random, time, group) and data.test_split: which rows are held out, the folds, the errors
for a split the data cannot support, and the expected score's record. No training here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.data.load import load_data
from nnlab.data.splits import RowKeys, fold_indices, holdout, random_split
from nnlab.errors import DataError, SpecError
from nnlab.spec.loader import load_spec, spec_hash

runner = CliRunner()


def hourly(days: int = 20, people: int = 12, seed: int = 0) -> pd.DataFrame:
    """An hourly table: 24 rows a day, a person column, a count that grows with time."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2012-10-01", periods=days, freq="D")
    rows = [{"dteday": d.strftime("%Y-%m-%d"), "hr": h, "temp": float(rng.normal()),
             "person": f"p{int(rng.integers(people))}", "cnt": int(d.day * 3 + h + rng.integers(5))}
            for d in dates for h in range(24)]
    return pd.DataFrame(rows)


def csv_spec(write, frame: pd.DataFrame, data: str) -> object:
    frame.to_csv(write("rows.csv", "").parent / "rows.csv", index=False)
    return load_spec(write("s.yaml", f"data: {{source: csv, path: rows.csv, target: cnt, {data}}}\n"
                                     "model: {kind: mlp}\n"))


# ---- the rules


def test_a_time_holdout_keeps_every_date_on_one_side_and_holds_out_the_latest():
    keys = RowKeys("time", "day", np.repeat(np.arange(10.0), 7))  # 10 dates, 7 rows each
    notes: list[str] = []
    kept, held = holdout(np.zeros(70), "regression", 0.2, 0, keys, notes)
    assert keys.keys[kept].max() < keys.keys[held].min()
    assert sorted(np.unique(keys.keys[held])) == [8.0, 9.0] and len(held) == 14
    assert "latest 14 of 70 by 'day'" in notes[0]


def test_a_group_holdout_shares_no_group_and_is_seeded():
    keys = RowKeys("group", "person", np.repeat(np.arange(20), 5), tuple(f"p{i}" for i in range(20)))
    first = holdout(np.zeros(100), "regression", 0.2, 3, keys, [])
    again = holdout(np.zeros(100), "regression", 0.2, 3, keys, [])
    assert not set(keys.keys[first[0]]) & set(keys.keys[first[1]])
    assert len(first[1]) == 20 and np.array_equal(first[1], again[1])


def test_a_random_holdout_is_the_split_of_before():
    y = np.arange(50) % 2
    assert all(np.array_equal(a, b) for a, b in zip(holdout(y, "classification", 0.2, 7, None, []),
                                                     random_split(y, "classification", 0.2, 7, [])))


def test_time_folds_chain_forward_and_group_folds_never_share_a_group():
    times = RowKeys("time", "day", np.repeat(np.arange(12.0), 3))
    folds = fold_indices(np.zeros(36), "regression", 3, 0, times)
    assert len(folds) == 3
    for train, val in folds:
        assert times.keys[train].max() < times.keys[val].min()
    assert [len(t) for t, _ in folds] == sorted(len(t) for t, _ in folds)  # each fold trains on more
    groups = RowKeys("group", "g", np.repeat(np.arange(9), 4))
    for train, val in fold_indices(np.zeros(36), "regression", 3, 0, groups):
        assert not set(groups.keys[train]) & set(groups.keys[val])


@pytest.mark.parametrize("keys, message", [
    (RowKeys("time", "day", np.zeros(10)), "holds one time only"),
    (RowKeys("group", "shop", np.zeros(10, np.int64), ("a",)), "holds one group only"),
    (RowKeys("group", "shop", np.array([0] * 8 + [1, 2]), ("big", "b", "c")), "the group 'big' of 'shop' holds 8"),
])
def test_a_split_the_data_cannot_support_is_a_clear_error(keys, message):
    with pytest.raises(DataError, match=message):
        holdout(np.zeros(10), "regression", 0.2, 0, keys, [])


def test_folds_need_enough_times_and_groups():
    with pytest.raises(DataError, match="3 folds by time need 4 or more different times"):
        fold_indices(np.zeros(9), "regression", 3, 0, RowKeys("time", "day", np.repeat([1.0, 2.0, 3.0], 3)))
    with pytest.raises(DataError, match="3 folds by group need 3 or more groups"):
        fold_indices(np.zeros(8), "regression", 3, 0, RowKeys("group", "g", np.repeat([0, 1], 4)))


# ---- a CSV loaded with them


def test_a_csv_split_by_time_tests_on_the_latest_days_and_validates_on_the_days_before(write):
    data = load_data(csv_spec(write, hourly(), "split: {by: time, column: dteday}, test_split: 0.2"))
    days = data.row_keys.keys
    train_days, val_days = days[:len(data.x_train)], days[len(data.x_train):]
    assert len(data.x_test) == 4 * 24 and len(data.x_val) == 3 * 24  # 20 days: 4 to test, 3 of 16 to validate
    assert train_days.max() < val_days.min()
    assert any("test rows: the latest 96 of 480 by 'dteday', from 2012-10-17" in n for n in data.notes)
    assert data.y_test.min() > data.y_train.mean()  # (the count grows with the date: the test days are the latest)
    assert "96 more held out as test rows" in data.summary()


def test_a_csv_split_by_group_keeps_each_person_on_one_side_even_when_the_column_is_dropped(write):
    frame = hourly()
    data = load_data(csv_spec(write, frame, "split: {by: group, column: person}, drop: [person], test_split: 0.2"))
    people = data.row_keys.keys
    assert not set(people[:len(data.x_train)]) & set(people[len(data.x_train):])
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == len(frame)


def test_a_split_column_that_is_not_there_or_holds_no_times_is_an_error(write):
    with pytest.raises(DataError, match="data.split.column"):
        load_data(csv_spec(write, hourly(), "split: {by: time, column: when}"))
    with pytest.raises(DataError, match="holds neither dates nor numbers"):
        load_data(csv_spec(write, hourly(), "split: {by: time, column: person}"))


@pytest.mark.parametrize("data, message", [
    ("split: {by: time}", "needs the column to split by"),
    ("split: {by: random, column: dteday}", "takes no column"),
    ("test_split: 0.2, validation_path: rows.csv", "data.validation_path gives the validation rows already"),
])
def test_a_split_spec_that_cannot_mean_anything_is_refused(write, data, message):
    with pytest.raises(SpecError, match=message):
        csv_spec(write, hourly(), data)


def test_a_spec_without_the_new_fields_hashes_as_before(write):
    plain = csv_spec(write, hourly(), "validation_split: 0.2")
    assert spec_hash(plain) == spec_hash(csv_spec(write, hourly(), "validation_split: 0.2, split: null"))
    assert spec_hash(plain) != spec_hash(csv_spec(write, hourly(), "split: {by: time, column: dteday}"))


def test_validate_says_a_group_too_large_for_the_share_with_exit_2(write, tmp_path):
    frame = hourly()
    frame["shop"] = np.where(np.arange(len(frame)) < 400, "big", "small")
    csv_spec(write, frame, "split: {by: group, column: shop}")
    result = runner.invoke(app, ["validate", str(tmp_path / "s.yaml")])
    assert result.exit_code == 2 and "the group 'big' of 'shop' holds 400 of 480 rows" in result.output


# ---- the expected score


@pytest.mark.slow
def test_a_run_with_test_rows_scores_best_keras_on_them_once_and_shows_it(write, tmp_path):
    from nnlab.engine.sweep import run
    from nnlab.progress import Reporter
    from nnlab.runs.compare import compare

    frame = hourly()
    frame.to_csv(tmp_path / "rows.csv", index=False)
    spec = load_spec(write("s.yaml", "name: t\ndata: {source: csv, path: rows.csv, target: cnt, test_split: 0.2, "
                                     "split: {by: time, column: dteday}}\nmodel: {kind: mlp, layers: 1, units: 8}\n"
                                     "train: {epochs: 2, metrics: [r2]}\nsearch: {max_trials: 1, baseline: gbm, "
                                     "objective: val_r2}\n"))
    said: list[str] = []
    reporter = Reporter(quiet=True)
    reporter.say = lambda text, *a, **k: said.append(str(text))
    result = run(spec, tmp_path / "runs", reporter=reporter)
    expected = result.summary.expected_score
    assert expected["rows"] == 96 and expected["metric"] == "val_r2"
    assert expected["value"] == pytest.approx(expected["metrics"]["val_r2"], abs=1e-6)
    assert expected["validation"] == result.summary.best_score
    assert isinstance(expected["baseline"], float) and "the latest by 'dteday'" in expected["how"]
    assert any(line.startswith("validation val_r2 ") and "expected on new rows about" in line for line in said)
    row = compare([tmp_path / "runs"]).rows[0]
    assert row["expected_score"] == expected["value"]


@pytest.mark.slow
def test_confirm_cross_validates_the_top_configurations_and_refits_the_winner_for_its_fold_mean_epoch(write, tmp_path):
    from nnlab.engine.sweep import run
    from nnlab.progress import Reporter

    hourly().to_csv(tmp_path / "rows.csv", index=False)
    spec_file = write("s.yaml", "name: c\ndata: {source: csv, path: rows.csv, target: cnt}\n"
                                "model: {kind: mlp, layers: 1, units: {choice: [4, 8, 16]}}\n"
                                "train: {epochs: 3, metrics: [r2]}\n"
                                "search: {max_trials: 3, confirm: 2, objective: val_r2, tuner: grid}\n")
    said: list[str] = []
    reporter = Reporter(quiet=True)
    reporter.say = lambda text, *a, **k: said.append(str(text))
    result = run(load_spec(spec_file), tmp_path / "runs", reporter=reporter)
    confirmed = result.summary.confirmed
    top = [r.trial_id for r in sorted((r for r in result.records if r.completed), key=lambda r: -r.score)[:2]]
    assert confirmed["candidates"] == top and confirmed["folds"] == 5
    winner = confirmed["order"][0]
    scores = confirmed["trials"]
    assert scores[winner]["score"] == max(s["score"] for s in scores.values())
    assert result.summary.refit == {"trial": winner, "epochs": scores[winner]["best_epoch"], "rows": 480}
    assert result.summary.expected_score["value"] == scores[winner]["score"]
    assert any(line.startswith(f"search.confirm: trial {winner} ") for line in said)
    again = run(load_spec(spec_file), tmp_path / "runs", reporter=Reporter(quiet=True))  # (resumed: kept, not redone)
    assert again.summary.confirmed == confirmed


def test_folds_the_times_cannot_make_are_refused_when_the_data_is_loaded(write):
    frame = hourly(days=3)
    with pytest.raises(DataError, match="5 folds by time need 6 or more different times"):
        load_data(csv_spec(write, frame, "split: {by: time, column: dteday}, folds: 5"))


def test_a_row_without_a_time_is_a_clear_error(write):
    frame = hourly()
    frame.loc[5, "dteday"] = ""
    with pytest.raises(DataError, match="1 row\\(s\\) of 'dteday' have no time"):
        load_data(csv_spec(write, frame, "split: {by: time, column: dteday}"))


def test_confirm_fits_the_time_budget_left():
    import time
    from types import SimpleNamespace

    from nnlab.engine.final.confirm import _fitting
    from nnlab.runs.records import TrialRecord

    records = {str(i): TrialRecord(str(i), "completed", score=0.5, seconds=s) for i, s in enumerate([2.0, 4.0, 6.0])}
    final = SimpleNamespace(log=SimpleNamespace(records=records), deadline=None)
    assert _fitting(final, 3, 5) == 3  # (no budget: all)
    final.deadline = time.monotonic() + 45  # (the median trial: 4 s, 20 s a configuration's 5 folds)
    assert _fitting(final, 3, 5) == 2
    final.deadline = time.monotonic() + 10
    assert _fitting(final, 3, 5) == 0  # (too little: confirm is skipped, said in a warning)
