"""Model quality on data never seen: nnlab's default path beside a tuned gradient-boosting baseline.

    pip install -e '.[bench]'          # vega_datasets, statsmodels (data that ships inside packages)
    python benchmarks/quality.py [--minutes 5] [--only cars,wine] [--quick]

For each data set (all offline: scikit-learn's bundled and generated sets, CSVs shipped in
`vega_datasets` and `statsmodels.datasets`, and generated data with a skewed positive target and with a
rare class), on each of `--splits` seeded splits (3 by default, seeds 0, 1, 2):
- the rows are split 80/20 with the seed; each part is written as a CSV;
- nnlab: `nnlab init --data train.csv --target T`, then `nnlab run` with the spec as written and
  `--set search.max_minutes=M` (the budget; 5 by default) and `--set seed=S`, then
  `nnlab evaluate RUN test.csv --json`;
- the baseline: scikit-learn's HistGradientBoosting with a 12-candidate random search over its usual
  knobs and 3-fold CV (RandomizedSearchCV), fitted on the same training rows (text columns as
  categories, dates as year, month, day of year and weekday), scored on the same test rows.
The score is accuracy for classes and R² for regression (counts too). One row per data set: the mean
scores over the splits, the mean ratio nnlab / baseline and its range, nnlab's mean time, and each
one's optimism: the score its choice was made on minus its test score (nnlab: the best trial's
validation score, where the objective is val_accuracy or val_r2; the baseline: its best 3-fold CV mean),
and nnlab's expected score on new rows (summary.json's expected_score, search.confirm's fold mean). `--quick`
runs four small sets with a one-minute budget. The targets (issue 23): a mean ratio ≥ 1.00 over all
sets, ahead on at least half, no set below 0.97.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class DataSet:
    name: str
    kind: str  # what it is, for the table
    target: str
    load: Callable[[], pd.DataFrame]
    by: str = "random"  # how its test rows are drawn: random, time (the latest) or group (unseen ones)
    column: str | None = None  # the time or group column

    def matching_split(self) -> str:
        """nnlab's data.split for this set's test rows, as a --set value."""
        return f"{{by: {self.by}, column: {self.column}}}"


def _sklearn(name: str, target: str = "target") -> Callable[[], pd.DataFrame]:
    def load():
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame.copy()
        if "target_names" in bunch and name != "diabetes":
            frame[target] = np.asarray(bunch.target_names)[bunch.target]
        return frame
    return load


def _vega(name: str, drop: tuple = ()) -> Callable[[], pd.DataFrame]:
    def load():
        from vega_datasets import local_data

        return getattr(local_data, name.replace("-", "_"))().drop(columns=list(drop))
    return load


def _cars() -> pd.DataFrame:
    frame = _vega("cars")()
    frame = frame.dropna(subset=["Miles_per_Gallon"])
    frame["Year"] = pd.to_datetime(frame["Year"]).dt.year  # (the model year, as the original data has it)
    return frame.drop(columns=["Name"])


def _seattle() -> pd.DataFrame:
    frame = _vega("seattle-weather")()
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    return frame


def _statsmodels(name: str, target: str, make: Callable | None = None) -> Callable[[], pd.DataFrame]:
    def load():
        import importlib

        frame = importlib.import_module(f"statsmodels.datasets.{name}").load_pandas().data.copy()
        return make(frame) if make else frame
    return load


def _fair(frame: pd.DataFrame) -> pd.DataFrame:
    frame["had_affair"] = np.where(frame.pop("affairs") > 0, "yes", "no")
    return frame


def _anes(frame: pd.DataFrame) -> pd.DataFrame:
    frame["vote"] = np.where(frame["vote"] > 0, "Dole", "Clinton")
    return frame.drop(columns=["logpopul"])  # (a copy of popul)


def _skewed() -> pd.DataFrame:
    """A positive, strongly skewed target (like hourly energy use): log-normal around a smooth function."""
    rng = np.random.default_rng(1)
    n = 3000
    x = rng.normal(size=(n, 6))
    signal = 0.9 * x[:, 0] + 0.6 * np.sin(2 * x[:, 1]) + 0.5 * x[:, 2] * x[:, 3] + 0.3 * np.abs(x[:, 4])
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(6)])
    frame["hour"] = rng.integers(0, 24, n)
    signal += 0.8 * np.cos(frame["hour"] / 24 * 2 * np.pi)
    frame["energy"] = np.round(30 * np.exp(signal + 0.35 * rng.normal(size=n)), 1)
    return frame


def _randhie(frame: pd.DataFrame) -> pd.DataFrame:
    frame["mdvis"] = frame["mdvis"].round().astype(int)  # doctor visits in a year: a count
    return frame


def _seattle_later() -> pd.DataFrame:
    """Seattle's daily maximum temperature, in date order: its test rows are the latest 20% of days."""
    frame = _vega("seattle-weather")()
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    return frame.drop(columns=["temp_min"]).sort_values("date", kind="stable").reset_index(drop=True)


def _randhie_people(frame: pd.DataFrame) -> pd.DataFrame:
    """randhie's doctor visits with each person (the same feature row over several years) named by a
    `person_id` column: its test rows are people no training row holds."""
    frame = _randhie(frame)
    features = [c for c in frame.columns if c != "mdvis"]
    frame["person_id"] = pd.factorize(pd.MultiIndex.from_frame(frame[features]))[0]
    return frame


def _airports() -> pd.DataFrame:
    """Latitude from the state (56 values: more than nnlab one-hots, 30) and the longitude; the
    names, cities and codes are nearly unique text (init drops them)."""
    frame = _vega("airports")()
    return frame.dropna(subset=["state"]).drop(columns=["country"])


def _dayfirst_weather() -> pd.DataFrame:
    """Seattle's daily maximum temperature, the dates written day first (31/12/2015)."""
    frame = _vega("seattle-weather")()
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%d/%m/%Y")
    return frame.drop(columns=["temp_min"])


def _friedman() -> pd.DataFrame:
    """scikit-learn's generated Friedman #1 regression: 5 informative inputs of 10, with noise."""
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=5000, n_features=10, noise=1.0, random_state=3)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)])
    frame["y"] = y
    return frame


def _rare() -> pd.DataFrame:
    """Two classes, one 6% of the rows (fraud-like): a non-linear boundary plus noise features."""
    rng = np.random.default_rng(2)
    n = 4000
    x = rng.normal(size=(n, 8))
    score = 1.6 * x[:, 0] + x[:, 1] ** 2 - 1.2 * x[:, 2] * x[:, 3] + 0.8 * rng.normal(size=n)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(8)])
    frame["channel"] = rng.choice(["web", "shop", "phone"], n, p=[0.6, 0.3, 0.1])
    score += np.where(frame["channel"] == "phone", 1.0, 0.0)
    frame["fraud"] = np.where(score > np.quantile(score, 0.94), "yes", "no")
    return frame


DATASETS = [
    DataSet("wine", "3 classes, 178 rows", "target", _sklearn("wine")),
    DataSet("breast-cancer", "2 classes, 569 rows", "target", _sklearn("breast_cancer")),
    DataSet("diabetes", "regression, 442 rows", "target", _sklearn("diabetes")),
    DataSet("cars", "regression (mpg), 398 rows", "Miles_per_Gallon", _cars),
    DataSet("digits", "10 classes, 1,797 rows", "target", _sklearn("digits")),
    DataSet("seattle-weather", "5 classes, 1,461 rows", "weather", _seattle),
    DataSet("anes96", "2 classes, 944 rows", "vote", _statsmodels("anes96", "vote", _anes)),
    DataSet("fair", "2 classes, 6,366 rows", "had_affair", _statsmodels("fair", "had_affair", _fair)),
    DataSet("skewed-energy", "skewed regression, 3,000 rows", "energy", _skewed),
    DataSet("rare-class", "2 classes (6% yes), 4,000 rows", "fraud", _rare),
    DataSet("randhie", "count (doctor visits), 20,190 rows", "mdvis", _statsmodels("randhie", "mdvis", _randhie)),
    DataSet("airports", "regression, 56-value category, 3,376", "latitude", _airports),
    DataSet("weather-dayfirst", "regression, day-first dates, 1,461", "temp_max", _dayfirst_weather),
    DataSet("friedman", "generated regression, 5,000 rows", "y", _friedman),
    DataSet("seattle-later", "regression, test: the latest 20% of days", "temp_max", _seattle_later, "time", "date"),
    DataSet("randhie-people", "count, 20,190 rows, test: unseen people", "mdvis",
            _statsmodels("randhie", "mdvis", _randhie_people), "group", "person_id"),
]
QUICK = ["wine", "diabetes", "cars", "breast-cancer"]


# ------------------------------------------------------------------------------------ nnlab


def nnlab(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "nnlab", *args], cwd=cwd, capture_output=True, text=True, env=env)


def run_nnlab(folder: Path, target: str, minutes: float, extra: list[str]) -> tuple[float, float, str]:
    """(test score, seconds of `nnlab run`, what the run did) through init, run and evaluate."""
    out = nnlab(["init", "--data", "train.csv", "--target", target, "-o", "spec.yaml", "--force"], folder)
    if out.returncode:
        raise RuntimeError(f"nnlab init failed:\n{out.stdout}{out.stderr}")
    start = time.monotonic()
    out = nnlab(["run", "spec.yaml", "--runs-dir", "runs", "--name", "q", "--overwrite", "--yes",
                 "--set", f"search.max_minutes={minutes}", *extra], folder)
    seconds = time.monotonic() - start
    if out.returncode:
        raise RuntimeError(f"nnlab run failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    summary = json.loads((folder / "runs" / "q" / "summary.json").read_text())
    out = nnlab(["evaluate", "runs/q", "test.csv", "--json"], folder)
    if out.returncode:
        raise RuntimeError(f"nnlab evaluate failed:\n{out.stdout}{out.stderr}")
    result = json.loads(out.stdout)
    score = result["r2"] if result["task"] == "regression" else result["accuracy"]
    how = f"{summary['completed']} trials" + (f", {summary.get('pruned')} pruned" if summary.get("pruned") else "")
    shown = summary.get("best_score") if summary.get("objective") in ("val_r2", "val_accuracy") else None
    return score, seconds, how, shown, (summary.get("expected_score") or {}).get("value")


# ------------------------------------------------------------------------------------ the baseline


def baseline_features(train: pd.DataFrame, test: pd.DataFrame, target: str):
    """Features as a careful hand-written script gives them to HistGradientBoosting: numbers as they
    are, dates as year, month, day of year and weekday, other text columns as categories (left out
    past 255 values, which it cannot take: names, codes)."""
    def prepare(frame):
        out = pd.DataFrame(index=frame.index)
        for column in frame.columns:
            if column == target:
                continue
            values = frame[column]
            if pd.api.types.is_numeric_dtype(values):
                out[column] = values.astype(float)
                continue
            dates = pd.to_datetime(values, errors="coerce", format="%Y-%m-%d")
            if dates.notna().mean() <= 0.9:
                dates = pd.to_datetime(values, errors="coerce", format="%d/%m/%Y")
            if dates.notna().mean() > 0.9:
                out[f"{column}_year"], out[f"{column}_month"] = dates.dt.year, dates.dt.month
                out[f"{column}_doy"], out[f"{column}_dow"] = dates.dt.day_of_year, dates.dt.day_of_week
            else:
                out[column] = values.astype(str)
        return out

    x_train, x_test = prepare(train), prepare(test)
    for column in list(x_train.columns):
        if not pd.api.types.is_numeric_dtype(x_train[column]) and x_train[column].nunique() > 255:
            x_train, x_test = x_train.drop(columns=column), x_test.drop(columns=column)  # names, codes
        elif not pd.api.types.is_numeric_dtype(x_train[column]):
            categories = sorted(set(x_train[column]))
            x_train[column] = pd.Categorical(x_train[column], categories=categories)
            seen = x_test[column].where(x_test[column].isin(categories))  # (a value never trained on: missing)
            x_test[column] = pd.Categorical(seen, categories=categories)
    return x_train, x_test


def run_baseline(train: pd.DataFrame, test: pd.DataFrame, target: str, task: str,
                 seed: int) -> tuple[float, float, float]:
    """(test score, seconds, best CV score): HistGradientBoosting, 12 random candidates, 3-fold CV."""
    from scipy.stats import loguniform, randint
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.model_selection import RandomizedSearchCV

    x_train, x_test = baseline_features(train, test, target)
    model_class = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    space = {"learning_rate": loguniform(0.01, 0.3), "max_leaf_nodes": randint(8, 64),
             "min_samples_leaf": randint(5, 50), "l2_regularization": loguniform(1e-4, 10.0),
             "max_iter": randint(100, 500)}
    start = time.monotonic()
    search = RandomizedSearchCV(model_class(categorical_features="from_dtype", random_state=seed), space,
                                n_iter=12, cv=3, random_state=seed, n_jobs=1)
    search.fit(x_train, train[target])
    # (accuracy or R² on the test rows, the seconds, and the score its choice was made on: its best CV mean)
    return float(search.score(x_test, test[target])), time.monotonic() - start, float(search.best_score_)


# ------------------------------------------------------------------------------------ the table


def split(data: DataSet, frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(training rows, test rows, task): the 80/20 split of `seed`, stratified for classes; for a set split
    by time, the latest 20% of rows (the training rows in time order; the same for every seed); by group,
    the people (groups) of `seed`'s 20%."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    regression = pd.api.types.is_float_dtype(frame[data.target]) or frame[data.target].nunique() > 30
    task = "regression" if regression else "classification"
    if data.by == "time":
        cut = int(len(frame) * 0.8)
        return frame.iloc[:cut], frame.iloc[cut:], task
    if data.by == "group":
        train, test = next(GroupShuffleSplit(1, test_size=0.2, random_state=seed).split(frame,
                                                                                       groups=frame[data.column]))
        return frame.iloc[train], frame.iloc[test], task
    train, test = train_test_split(frame, test_size=0.2, random_state=seed,
                                   stratify=None if regression else frame[data.target])
    return train, test, task


def one_split(data: DataSet, frame: pd.DataFrame, seed: int, minutes: float, extra: list[str]):
    """(nnlab's test score, the baseline's, nnlab's seconds, what its run did, (nnlab's optimism, the
    baseline's), nnlab's expected score, the split comparison or None) on the split of `seed`. A set split
    by time or group runs nnlab with the matching data.split (in the table) and with a random one."""
    train, test, task = split(data, frame, seed)
    matching = ["--set", f"data.split={data.matching_split()}"] if data.by != "random" else []
    random_run = None
    with tempfile.TemporaryDirectory(prefix=f"quality-{data.name}-") as tmp:
        folder = Path(tmp)
        train.to_csv(folder / "train.csv", index=False)
        test.to_csv(folder / "test.csv", index=False)
        seeded = extra + ["--set", f"seed={seed}"] + (["--set", f"data.drop=[{data.column}]"] if data.by == "group"
                                                      else [])  # (a person's number is no feature)
        score, seconds, how, shown, expected = run_nnlab(folder, data.target, minutes,
                                                         seeded + matching)
        if matching:
            random_run = run_nnlab(folder, data.target, minutes, seeded + ["--set", "data.split={by: random}"])
    base, _, base_shown = run_baseline(train.drop(columns=[data.column] if data.by == "group" else []),
                                       test.drop(columns=[data.column] if data.by == "group" else []),
                                       data.target, task, seed)
    optimism = (shown - score if shown is not None else float("nan"), base_shown - base)
    versus = None if random_run is None else (score, shown, expected, random_run[0], random_run[3])
    return score, base, seconds, how, optimism, expected, versus


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="nnlab's budget per data set and split")
    parser.add_argument("--splits", type=int, default=3, help="seeded 80/20 splits per data set (seeds 0, 1, …)")
    parser.add_argument("--only", default="", help="comma-separated data set names")
    parser.add_argument("--quick", action="store_true", help="four small sets, a one-minute budget")
    parser.add_argument("--set", action="append", default=[], help="extra --set for nnlab run (repeatable)")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else QUICK if args.quick else [d.name for d in DATASETS]
    minutes = 1.0 if args.quick and args.minutes == 5.0 else args.minutes
    extra = [part for item in args.set for part in ("--set", item)]
    print(f"nnlab init + run (search.max_minutes={minutes:g}{''.join(' ' + s for s in args.set)}) + evaluate, "
          f"beside HistGradientBoosting with a 12-candidate random search and 3-fold CV; {args.splits} seeded 80/20 "
          "splits; accuracy or R² on the 20%; ratio = nnlab / baseline, its mean over the splits and their range\n")
    header = (f"{'data set':<17} {'kind':<37} {'nnlab':>6} {'baseline':>8} {'ratio':>6} {'range':>13} "
              f"{'time':>6} {'optim.':>8} {'b.optim.':>8} {'expected':>8}  search (last split)")
    print(header)
    print("-" * len(header))
    means, compared = [], []
    for data in [d for d in DATASETS if d.name in names]:
        frame = data.load()
        results = []
        for seed in range(args.splits):
            try:
                results.append(one_split(data, frame, seed, minutes, extra))
            except RuntimeError as exc:
                print(f"{data.name:<17} split {seed}: nnlab failed: {str(exc)[-1500:]}", flush=True)
        if not results:
            continue
        scores, bases, seconds, hows, optimism, expected, versus = zip(*results)
        if versus[0] is not None:
            compared.append((data, versus))
        ratios = [s / b if b > 0 else float("nan") for s, b in zip(scores, bases)]
        means.append(float(np.mean(ratios)))
        spread = f"{min(ratios):.3f}–{max(ratios):.3f}"
        shown = [e for e in expected if e is not None]
        print(f"{data.name:<17} {data.kind:<37} {np.mean(scores):6.3f} {np.mean(bases):8.3f} {means[-1]:6.3f} "
              f"{spread:>13} {np.mean(seconds):5.0f}s {np.mean([o[0] for o in optimism]):+8.3f} "
              f"{np.mean([o[1] for o in optimism]):+8.3f} {np.mean(shown) if shown else float('nan'):8.3f}  "
              f"{hows[-1]}", flush=True)
        print(f"{'':<17} per split: " + ", ".join(f"{s:.3f}/{b:.3f}" for s, b in zip(scores, bases)), flush=True)
    for data, versus in compared:
        print(f"\n{data.name}: the test rows are {'the latest' if data.by == 'time' else 'unseen groups'}; "
              f"nnlab's chosen model under data.split {data.matching_split()} against {{by: random}}, per split:")
        for score, shown, expected, random_score, random_shown in versus:
            print(f"  matching: test {score:.3f}, validation {_num(shown)} (gap {_num(_gap(shown, score))}), expected "
                  f"{_num(expected)}; random: test {random_score:.3f}, validation {_num(random_shown)} "
                  f"(gap {_num(_gap(random_shown, random_score))})", flush=True)
    if means:
        ahead, below = sum(r > 1.0 for r in means), sum(r < 0.97 for r in means)
        print(f"\nmean ratio over {len(means)} sets: {np.mean(means):.3f} (target ≥ 1.00); ahead on {ahead} of "
              f"{len(means)} (target: at least half); below 0.97 on {below} (target: none); "
              f"median {np.median(means):.3f}")
    return 0


def _gap(shown, score):
    return None if shown is None else shown - score


def _num(value) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
