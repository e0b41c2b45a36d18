"""The spec schema: what a spec file may say, with each field's type, default and meaning. Seven top-level
keys (`name`, `seed`, `data`, `model`, `train`, `search`, `track`); unknown keys are errors. `data` is one of four
kinds by `data.source`, `model` one of four by `model.kind`; searchable fields (`spec.space`) take a fixed
value or a search space. Reading a spec file (YAML, lines, `--set`, messages) is `spec.loader`'s.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator

from nnlab.errors import did_you_mean, shown
from nnlab.spec import names
from nnlab.spec.constraints import Constraints
from nnlab.spec.kinds import searchable
from nnlab.spec.modelschema import (  # noqa: F401  (re-exported: the schema is one namespace)
    IMAGE_KINDS,
    MODEL_KINDS,
    Augment,
    CnnModel,
    MlpModel,
    ModelSpec,
    PretrainedModel,
    SequentialModel,
)
from nnlab.spec.section import Section
from nnlab.spec.trackschema import TrackSpec

CATEGORIES = 30  # data.categories' default: one-hot columns per categorical column
MAX_PACK = 64  # search.pack: the most trials in one pack
CSV_READER = 2  # the version of nnlab's rules for reading CSV files; part of a CSV spec's hash
ACTIVATIONS, SKLEARN_SETS, KERAS_SETS = names.ACTIVATIONS, names.SKLEARN_SETS, names.KERAS_SETS
OPTIMIZERS = tuple(names.OPTIMIZERS)
# Image files nnlab reads (by these names, and any other file whose content is one of these formats)
IMAGE_FORMATS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".pgm", ".pbm", ".pnm", ".tif", ".tiff", ".webp")
CLASSIFICATION_METRICS = tuple(names.CLASSIFICATION_METRICS)
VALIDATION_ONLY_METRICS = names.VALIDATION_ONLY_METRICS  # (logged as val_NAME only)
CLASS_WEIGHTS = ("none", "balanced")
LOSSES = tuple(names.LOSSES)
REGRESSION_METRICS = tuple(names.REGRESSION_METRICS)


# ------------------------------------------------------------------------------------ data


class Costs(Section):
    fp: float = Field(ge=0, description="What a false alarm costs (a row called positive that is not).")
    fn: float = Field(ge=0, description="What a missed positive costs.")


class _DataBase(Section):
    validation_split: float = Field(0.2, gt=0, lt=1, description="Share of the rows/images held out for validation "
                                                                  "(seeded).")
    validation_path: Path | None = Field(None, description="A second file or folder of the same kind to validate on, "
                                                           "instead of a split.")
    folds: int | None = Field(
        None, ge=2, le=20, description="Cross-validate every trial over K folds of all the rows (small data): "
                                       "its score is the mean of the folds' scores.")
    target_transform: Literal["none", "log", "standardize", "auto"] = Field(
        "none", description="Regression: fit the target as log(1 + y) (a positive, skewed target) or standardized; "
                            "auto: log(1 + y) or as it is, whichever a quick probe on the training rows scores "
                            "better (R², in the target's units). Predictions and metrics stay in its own units."
    )
    positive_class: str | bool | None = Field(
        None, description="Two classes: the one auc, pr_auc, precision and recall are about (default: the second "
                          "in sorted order, e.g. 'yes' of 'no'/'yes').")

    threshold: Annotated[float, Field(gt=0, lt=1)] | Literal["f1"] | Costs | None = Field(
        None, description="Two classes: the probability from which a row is called positive (default 0.5); f1: "
                          "the highest F1 on the validation rows; {fp: 1, fn: 5}: the lowest cost there.")

    @field_validator("positive_class", mode="before")
    @classmethod
    def _class_as_text(cls, value: Any) -> Any:
        # A bare yes/no is a boolean to YAML: kept as one, and matched to the class names when they are known.
        return value if value is None or isinstance(value, bool) else str(value)


class FrameRecord(Section):
    """What nnlab.run(spec, data=DataFrame) was given, recorded in the run's spec copy."""

    rows: int = Field(description="The DataFrame's rows.")
    columns: int = Field(description="The DataFrame's columns.")
    sha256: str = Field(description="A hash of its contents (pandas' row hashes, index included): a run resumes "
                                    "only on the same data.")


class SplitSpec(Section):
    """data.split: how validation (and test) rows and folds are drawn from a CSV's rows."""

    by: Literal["random", "time", "group"] = Field(
        "random", description="random: shuffled (stratified by class where it can be); time: the latest rows are "
                              "held out and folds chain forward (a forecast); group: no value of `column` on both "
                              "sides (the same person, shop or patient in several rows)."
    )
    column: str | None = Field(None, description="time: a column of dates, times or ordered numbers; group: the "
                                                 "column whose value names a row's group.")

    @model_validator(mode="after")
    def _column_named(self) -> SplitSpec:
        if self.by != "random" and not self.column:
            raise ValueError(f"data.split by {self.by} needs the column to split by: "
                             f"{{by: {self.by}, column: NAME}}")
        if self.by == "random" and self.column:
            raise ValueError("data.split by random takes no column; did you mean {by: time} or {by: group}?")
        return self


class CsvData(_DataBase):
    source: Literal["csv"] = Field(description="A CSV file of rows, one column the target.")
    path: Path | None = Field(None, description="The CSV file, relative to the spec (required, except from "
                                                "Python, where nnlab.run(spec, data=frame) takes a DataFrame).")
    target: str | list[str] = Field(description="The column to predict, or a list of columns: one output of the "
                                                "model each (e.g. [casual, registered]).")
    drop: list[str] = Field([], description="Columns to leave out (ids, names, leaks).")
    categorical: list[str] = Field([], description="Numeric columns to treat as categories.")
    na_values: list[str] = Field([], description="Extra cell values that mean 'missing', e.g. '?'.")
    task: Literal["classification", "regression"] | None = Field(
        None, description="What to predict; inferred from the target column when absent."
    )
    delimiter: str | None = Field(None, description="Column separator; detected when absent.")
    encoding: str | None = Field(None, description="The file's text encoding (utf-8, cp1252, latin-1, …); "
                                                   "detected when absent: UTF-8, else Windows-1252, else Latin-1.")
    decimal: Literal[".", ","] | None = Field(None, description="The decimal mark of text numbers; detected per "
                                                                "column when absent.")
    thousands: Literal[",", ".", " ", "'", "none"] | None = Field(
        None, description="The thousands separator of text numbers ('none' for none); detected per column when absent."
    )
    dayfirst: bool | None = Field(None, description="Dates like 01/12/2017 have the day first; detected per column "
                                                    "when absent (month first when the values cannot tell).")
    dates: list[str] = Field([], description="Columns to read as dates.")
    categories: int = Field(CATEGORIES, ge=1, le=1000, description="Per categorical column, how many of its most "
                                                                  "frequent values get a one-hot column; the rest "
                                                                  "share one, other.")
    keep: list[str] = Field([], description="Columns never left out automatically (as identifiers, free text, row "
                                            "numbers or constant).")
    frame: FrameRecord | None = Field(None, description="Written by nnlab, not by hand: the DataFrame that "
                                                        "nnlab.run(spec, data=frame) read instead of a file.")
    split: SplitSpec | None = Field(None, description="How the validation and test rows and the folds are drawn: "
                                                      "{by: random} (the default), {by: time, column: DATE} or "
                                                      "{by: group, column: NAME}.")
    test_split: float | None = Field(
        None, gt=0, lt=0.9, description="Share of the rows held out before the search as a test set that no trial "
                                        "sees (by data.split's scheme), scored once by best.keras at the end: the "
                                        "run's expected score on new rows. validation_split is then a share of "
                                        "the rows left."
    )
    image_shape: tuple[int, int, Literal[1, 3]] | None = Field(
        None, description="The feature columns are the pixels of images of this [height, width, channels] (a digits "
                          "or clothes CSV of 784 columns 0–255: [28, 28, 1]): each row is read as an image, row by "
                          "row, for model.kind: cnn; no column is left out or standardized."
    )

    @field_validator("image_shape")
    @classmethod
    def _image_sides(cls, value):
        if value is not None and (value[0] < 2 or value[1] < 2 or value[0] * value[1] > 4096 * 4096):
            raise ValueError(f"data.image_shape {list(value)}: height and width are 2 or more (e.g. [28, 28, 1])")
        return value

    @model_validator(mode="after")
    def _one_file_to_split(self) -> CsvData:
        if self.validation_path is not None and (self.test_split or (self.split and self.split.by != "random")):
            which = "data.test_split" if self.test_split else f"data.split by {self.split.by}"
            raise ValueError(f"{which} splits the rows of data.path, and data.validation_path gives the "
                             "validation rows already; remove one of them")
        return self

    def split_by(self) -> str:
        return self.split.by if self.split else "random"

    @field_validator("target", mode="before")
    @classmethod
    def _targets(cls, value: Any) -> Any:
        if isinstance(value, list):
            names = [str(v) for v in value]
            if not names or len(set(names)) != len(names):
                raise ValueError(f"expected a column name, or a list of different column names; found {shown(value)}")
            return names[0] if len(names) == 1 else names
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator("na_values", mode="before")
    @classmethod
    def _na_as_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v) for v in value]
        return value


class ImageData(_DataBase):
    source: Literal["images"] = Field(description="A folder with one subfolder of images per class.")
    path: Path = Field(description="The folder, relative to the spec.")
    image_size: tuple[Annotated[int, Field(ge=4, le=1024)], Annotated[int, Field(ge=4, le=1024)]] = Field(
        (64, 64), description="[height, width] every image is resized to."
    )
    color_mode: Literal["rgb", "grayscale"] = Field("rgb", description="rgb (3 channels) or grayscale (1).")
    keep_decoded: bool = Field(
        True, description="Keep the decoded images under the runs folder (.decoded/), memory-mapped by every "
        "process that trains on them and read back instead of decoding again; false decodes in each process."
    )


class NpzData(_DataBase):
    source: Literal["npz"] = Field(description="A NumPy .npz file with arrays x, y (and x_val, y_val).")
    path: Path = Field(description="The .npz file, relative to the spec.")
    task: Literal["classification", "regression"] | None = Field(
        None, description="What to predict; inferred from y when absent."
    )


class BundledData(_DataBase):
    source: str = Field(description="sklearn:NAME (offline) or keras:NAME (downloads once).")

    @field_validator("source")
    @classmethod
    def _known_set(cls, value: str) -> str:
        prefix, _, name = value.partition(":")
        known = SKLEARN_SETS if prefix == "sklearn" else KERAS_SETS
        if name not in known:
            raise ValueError(
                f"expected one of {', '.join(f'{prefix}:{n}' for n in known)}; found {shown(value)}"
                + did_you_mean(name, known)
            )
        return value


def _data_kind(value: Any) -> str | None:
    source = value.get("source") if isinstance(value, dict) else getattr(value, "source", None)
    if not isinstance(source, str):
        return None
    if source.startswith(("sklearn:", "keras:")):
        return "bundled"
    return source if source in ("csv", "images", "npz") else None


DataSpec = Annotated[
    Annotated[CsvData, Tag("csv")] | Annotated[ImageData, Tag("images")] | Annotated[NpzData, Tag("npz")]
    | Annotated[BundledData, Tag("bundled")],
    Discriminator(_data_kind),
]
DATA_SOURCES = ("csv", "images", "npz", "sklearn:NAME", "keras:NAME")

# ------------------------------------------------------------------------------------ model: spec.modelschema

# ------------------------------------------------------------------------------------ train


class EarlyStopping(Section):
    patience: int = Field(ge=1, description="Epochs without improvement before a trial stops.")
    monitor: str | None = Field(None, description="Metric to watch; defaults to the search objective.")
    min_delta: float = Field(0.0, ge=0, description="Smallest change that counts as improvement.")


class TrainSpec(Section):
    optimizer: searchable(str, options=OPTIMIZERS) = Field("adam", description="Optimizer.")
    learning_rate: searchable(float, gt=0, le=10) = Field(0.001, description="Learning rate.")
    batch_size: searchable(int, ge=1) = Field(32, description="Batch size.")
    epochs: int = Field(10, ge=1, description="Epochs per trial (hyperband: see search.max_epochs).")
    loss: searchable(str, options=LOSSES, optional=True) = Field(
        None, description="Loss; default crossentropy for classification, mse for regression. Regression: "
                          "{choice: [mse, huber]} lets the search decide (the objective cannot then be val_loss)."
    )
    early_stopping: EarlyStopping | None = Field(None, description="Stop a trial that stopped improving.")
    metrics: list[str] = Field(
        [], description="Extra metrics: classification f1 (macro), auc, pr_auc, precision, recall; regression "
                        "mae, mse, rmse, r2."
    )
    class_weight: searchable(str, options=CLASS_WEIGHTS) = Field(
        "none", description="Classification: 'balanced' weighs each class by the inverse of its share of the "
                            "training rows."
    )
    weight_decay: searchable(float, ge=0, le=1, optional=True) = Field(
        None, description="Decoupled weight decay (each step, weights shrink by learning_rate × this); left out: "
                          "Keras's default (0.004 for adamw, none for the others).")
    schedule: searchable(str, options=names.SCHEDULES) = Field(
        "constant", description="The learning rate over a trial's epochs: constant, or cosine (from learning_rate "
                                "down to 0 at the last epoch, epoch by epoch).")
    label_smoothing: searchable(float, ge=0, lt=1) = Field(
        0.0, description="Classification: the crossentropy's targets are 1 - x for the true class and x / classes "
                         "added to every class.")
    jit_compile: bool = Field(
        False, description="Compile each train step with XLA. Off by default: on a CPU it made short trials slower."
    )
    mixed_precision: bool = Field(
        False, description="Compute in float16 on a GPU (bfloat16 on a CPU), keep weights in float32."
    )
    sync_batch_norm: bool = Field(
        False, description="With --strategy mirrored: BatchNormalization layers compute their statistics over "
                           "every replica's rows together (synchronized), not per replica."
    )


# ------------------------------------------------------------------------------------ search


class Objective(Section):
    name: str = Field(description="A metric name as Keras logs it, e.g. val_loss.")
    direction: Literal["min", "max"] = Field(description="Whether lower or higher is better.")


class SearchSpec(Section):
    tuner: Literal[tuple(names.TUNERS)] = Field("random", description="Search strategy: "
                                                  + names.words_of(names.TUNERS) + ".")
    objective: str | Objective = Field("val_loss", description="Metric to optimize; direction inferred.")
    max_trials: int | None = Field(
        None, ge=1, description="Trials to run (not used by hyperband). Left out: 10, or with max_minutes, as many as "
                                "fit in that budget.")
    executions_per_trial: int = Field(1, ge=1, description="Trainings per trial, averaged.")
    max_epochs: int | None = Field(None, ge=1, description="Hyperband: most epochs of one model.")
    factor: int = Field(3, ge=2, description="Hyperband: reduction factor between rounds.")
    max_minutes: float | None = Field(None, gt=0, description="No new trial starts after this many minutes.")
    max_failures: int = Field(5, ge=1, description="Stop after this many failed trials in a row.")
    pruning: Literal["none", "median"] = Field(
        "none", description="median: stop a trial whose best score so far is worse than the median of the completed "
                            "trials at the same epoch (after 5 trials and 2 epochs); it is recorded as pruned.")
    keep: Literal["best", "all", "none"] = Field(
        "best", description="Trial checkpoints to keep: the best trial's, all, or none (best.keras only).")
    refit: bool = Field(
        True, description="After the search, train the best configuration again on every training row (the "
                          "validation rows too) for the epochs its search found best; best.keras is that model.")
    ensemble: int = Field(
        1, ge=1, le=10, description="best.keras averages the predictions (probabilities for classes) of the top "
                                    "K configurations, each refitted when refit is true; 1: the best one alone."
    )
    confirm: int = Field(
        0, ge=0, le=10, description="After the search, the top K configurations are cross-validated over 5 folds of "
                                    "the training and validation rows (by data.split's scheme) and the best fold mean "
                                    "becomes best.keras, refitted for its fold-mean best epoch; 0: the search's best."
    )
    baseline: Literal["none", "gbm"] = Field("none", description="gbm: a tuned gradient-boosting model fitted and "
                                             "scored on the same rows as the trials, to compare them with.")
    pack: Annotated[int, Field(ge=1, le=MAX_PACK)] | Literal["auto"] = Field(
        1, description="Trials trained at once: their models stepped together in one traced loop, each with its own "
                       "optimizer (the trials of a pack share a batch size); auto: chosen from the model's size and "
                       "the device. 1: one at a time."
    )
    constraints: Constraints | None = Field(None, description="Size limits: a model over one is never trained.")
    latency: Literal["keras", "litert", "onnx"] | None = Field(
        None, description="Time one example's forward pass of each trial's model on this host with this runtime "
                          "(trials.csv: latency_ms); off when left out.")

    @model_validator(mode="after")
    def _pruning_needs_whole_trials(self):
        if self.pruning != "none" and self.tuner == "hyperband":
            raise ValueError("search.pruning: median does not combine with tuner: hyperband, which stops "
                             "trials its own way and continues later rounds from earlier trials' weights; "
                             "leave pruning out, or use tuner: random or bayesian")
        if self.constraints is not None:
            self.constraints.check_search(self.tuner, self.latency)
        return self

    def trial_limit(self) -> int | None:
        """The most trials to run: max_trials; left out, 10, or no limit but the time with max_minutes."""
        if self.max_trials is not None:
            return self.max_trials
        return None if self.max_minutes else 10


# ------------------------------------------------------------------------------------ spec


class Spec(Section):
    name: str = Field(description="Run name; default the spec file's name.")
    seed: int = Field(42, ge=0, description="Seed for the split, the search and the weights.")
    data: DataSpec
    model: ModelSpec
    train: TrainSpec = Field(default_factory=TrainSpec)
    search: SearchSpec = Field(default_factory=SearchSpec)
    track: TrackSpec | None = Field(None, description="An MLflow tracking server to send the run to.")
    _source: Any = PrivateAttr(None)  # a spec.source.SpecSource: where each key came from

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", value):
            raise ValueError(
                "a run name may hold ASCII letters (a-z, A-Z), digits, '.', '_' and '-', and begins with a letter or "
                f"a digit (it names a folder on every system); found {shown(value)}"
            )
        return value

    def objective_name(self) -> str:
        obj = self.search.objective
        return obj if isinstance(obj, str) else obj.name


def json_schema() -> dict:
    """The spec's JSON Schema (draft 2020-12), for editors' YAML completion and checking."""
    schema = Spec.model_json_schema()
    schema["required"] = [k for k in schema.get("required", []) if k != "name"]  # defaults to the file's name
    csv = schema["$defs"]["CsvData"]
    csv["required"] = sorted({*csv.get("required", []), "path"})  # a file needs it (Python may pass a DataFrame)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "nnlab spec",
            "description": "An nnlab experiment: data, model, training and search space (nnlab run SPEC).",
            **{k: v for k, v in schema.items() if k not in ("title", "description")}}
