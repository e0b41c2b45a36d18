"""How a run's data was prepared (`Preparation`): what new data goes through to reach the model, and
the shape the model is built for. A run folder keeps it as `preprocessing.json`.

Its `kind` says where the rows came from, and so how new data is read:
- "table": a CSV file, its columns turned into numbers (`TablePrep`, one record per feature column);
- "image_folder": image files, decoded to one size and colour mode (`ImagePrep`);
- "arrays": arrays (an .npz, a bundled data set), features standardized (`ArrayPrep`).

On disk (`to_json`, `from_json`) it is one flat JSON object, versioned by `layout`. Layout 1 (nnlab
0.3 and before) has no `layout` key and no `kind`: its kind is read from its keys, here and nowhere
else, so the run folders of every earlier version still predict, evaluate and export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from nnlab import readback
from nnlab.data import prepchecks
from nnlab.data.dates import DateFormat
from nnlab.data.numbers import NumberFormat
from nnlab.data.numericstats import NumericStats
from nnlab.data.rules import TargetTransform, output_units
from nnlab.data.shape import DataShape
from nnlab.errors import RunError, shown
from nnlab.spec.sizes import FeatureCounts

LAYOUT = 2  # preprocessing.json's layout written now (1: no "layout" key)
KINDS = ("table", "image_folder", "arrays")


@dataclass
class Target:
    """One target: its column (None: a run's only target), its task, its classes (classification), its
    output's name (several targets), and data.target_transform of a regression target."""

    name: str | None
    task: str
    class_names: list | None = None
    head: str = ""
    transform: TargetTransform | None = None


# ------------------------------------------------------------------------------------ a table's columns


@dataclass(frozen=True)
class NumericColumn:
    """A column of numbers: NaN takes the training median, then the training mean and deviation
    standardize it. `format`: how the column writes numbers (runs read by the first rules have none)."""

    type: ClassVar[str] = "numeric"
    name: str
    median: float
    mean: float
    std: float
    format: NumberFormat | None = None

    def to_json(self) -> dict:
        out = {"name": self.name, "type": self.type, "median": self.median, "mean": self.mean, "std": self.std}
        return out | ({"format": self.format.as_dict()} if self.format else {})


@dataclass(frozen=True)
class DateColumn:
    """A column of dates: each part (year, month, …) a number, standardized by its (mean, std)."""

    type: ClassVar[str] = "date"
    name: str
    parts: dict[str, tuple[float, float]]
    format: DateFormat

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type, "parts": {p: list(s) for p, s in self.parts.items()},
                "format": self.format.as_dict()}


@dataclass(frozen=True)
class CategoricalColumn:
    """A column of categories, one-hot over the training's most frequent `categories`, with an `other`
    column (values never seen, or past the most frequent) and a `missing` column where the run has them."""

    type: ClassVar[str] = "categorical"
    name: str
    categories: list[str]
    other: bool
    missing: bool

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type, "categories": list(self.categories), "other": self.other,
                "missing": self.missing}


Column = NumericColumn | DateColumn | CategoricalColumn


def column_from_json(record: dict) -> Column:
    if record["type"] == "numeric":
        fmt = record.get("format")
        return NumericColumn(record["name"], record["median"], record["mean"], record["std"],
                             NumberFormat(**fmt) if fmt is not None else None)
    if record["type"] == "date":
        parts = {p: tuple(s) for p, s in record["parts"].items()}
        fmt = DateFormat(**record["format"]) if "format" in record else DateFormat(parts=list(parts))
        return DateColumn(record["name"], parts, fmt)
    return CategoricalColumn(record["name"], list(record["categories"]), bool(record["other"]),
                             bool(record["missing"]))


def _width(col: Column) -> int:
    """How many features a column becomes."""
    if isinstance(col, NumericColumn):
        return 1
    if isinstance(col, DateColumn):
        return len(col.parts)
    return len(col.categories) + col.other + col.missing


# ------------------------------------------------------------------------------------ each kind's part


@dataclass(frozen=True)
class TablePrep:
    """A CSV file's columns as features: `target` is data.target (the label column of one target),
    `reader` the version of the CSV rules that read it (None: the first), `na_values` data.na_values."""

    kind: ClassVar[str] = "table"
    columns: list[Column]
    target: str | list | None = None
    reader: int | None = None
    na_values: tuple = ()

    @property
    def features(self) -> list[str]:
        """The model's input columns by name: numeric, `date.part`, `column=category` (and =other, =missing)."""
        names = []
        for col in self.columns:
            if isinstance(col, NumericColumn):
                names.append(col.name)
            elif isinstance(col, DateColumn):
                names += [f"{col.name}.{p}" for p in col.parts]
            else:
                names += [f"{col.name}={c}" for c in col.categories]
                names += [f"{col.name}=other"] * col.other + [f"{col.name}=missing"] * col.missing
        return names

    @property
    def numeric(self) -> tuple[int, ...]:
        """The positions in `features` of the numeric ones (numbers and date parts)."""
        kinds = [isinstance(col, (NumericColumn, DateColumn)) for col in self.columns
                 for _ in range(_width(col))]
        return tuple(i for i, numeric in enumerate(kinds) if numeric)

    @property
    def categorical(self) -> tuple[tuple[int, ...], ...]:
        """The positions in `features` of each categorical column's one-hot columns, column by column."""
        blocks, start = [], 0
        for col in self.columns:
            if isinstance(col, CategoricalColumn):
                blocks.append(tuple(range(start, start + _width(col))))
            start += _width(col)
        return tuple(blocks)

    def to_json(self) -> dict:
        return {"reader": self.reader, "target": self.target, "columns": [c.to_json() for c in self.columns],
                "features": self.features, "na_values": list(self.na_values)}

    @classmethod
    def from_json(cls, record: dict) -> TablePrep:
        return cls([column_from_json(c) for c in record["columns"]], record.get("target"), record.get("reader"),
                   tuple(record.get("na_values") or ()))


@dataclass(frozen=True)
class ImagePrep:
    """Image files decoded to `image_size` (height, width) in `color_mode` (rgb, grayscale)."""

    kind: ClassVar[str] = "image_folder"
    image_size: tuple[int, int]
    color_mode: str = "rgb"

    def to_json(self) -> dict:
        return {"image_size": list(self.image_size), "color_mode": self.color_mode}

    @classmethod
    def from_json(cls, record: dict) -> ImagePrep:
        return cls(tuple(record["image_size"]), record.get("color_mode", "rgb"))


@dataclass(frozen=True)
class ArrayPrep:
    """Arrays as given; features (not pixels) standardized by the training `mean` and `std` per column."""

    kind: ClassVar[str] = "arrays"
    mean: list[float] | None = None
    std: list[float] | None = None

    def to_json(self) -> dict:
        return {"mean": self.mean, "std": self.std} if self.mean is not None else {}

    @classmethod
    def from_json(cls, record: dict) -> ArrayPrep:
        return cls(record.get("mean"), record.get("std"))


Source = TablePrep | ImagePrep | ArrayPrep
SOURCES: dict[str, type] = {s.kind: s for s in (TablePrep, ImagePrep, ArrayPrep)}


# ------------------------------------------------------------------------------------ the record


@dataclass(frozen=True)
class Preparation:
    """How raw data became the model's inputs and what the model predicts: `source` (one of the three
    kinds), the task, the classes, the input shape, the pixel scale, and with several targets one
    `Target` each (`several`); `target_transform` of one regression target."""

    source: Source
    task: str
    input_shape: tuple
    class_names: list | None = None
    rescale: float = 1.0
    several: list[Target] = field(default_factory=list)
    target_transform: TargetTransform | None = None

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def table(self) -> TablePrep | None:
        return self.source if isinstance(self.source, TablePrep) else None

    @property
    def pixels(self) -> bool:
        """Whether the model takes pixels: an image folder's run, or image arrays (height × width × channels)."""
        return self.kind == "image_folder" or len(self.input_shape) == 3

    def outputs(self) -> list[Target]:
        """What the model predicts: one `Target` per target (name, task, classes, its output's name); a
        run of one target has one, named None, whose output is the model's only one."""
        if self.several:
            return list(self.several)
        return [Target(None, self.task, self.class_names, None, self.target_transform)]

    def output_units(self) -> int:
        """The model's output units in all (as `Dataset.output_units`)."""
        return sum(output_units(t.task, len(t.class_names or [])) for t in self.outputs())

    @property
    def numeric(self) -> tuple[int, ...]:
        """The model's inputs that are numeric features: a table's numbers and date parts, every column
        of arrays of features; none for pixels."""
        if self.pixels or len(self.input_shape) != 1:
            return ()
        return self.table.numeric if self.table is not None else tuple(range(self.input_shape[0]))

    @property
    def categorical(self) -> tuple[tuple[int, ...], ...]:
        """A table's categorical columns, each the positions of its one-hot inputs; none otherwise."""
        return self.table.categorical if self.table is not None else ()

    def feature_counts(self) -> FeatureCounts:
        """What `spec.sizes` needs to count the layers at the front of an MLP."""
        return FeatureCounts(len(self.numeric), tuple(len(block) for block in self.categorical))

    def shape(self, target_means: list[float] | None = None, numeric_stats: NumericStats | None = None) -> DataShape:
        """The shape the model is built for. `target_means`: each regression target's mean training
        value, as fitted (its output bias starts there), and `numeric_stats`: the numeric features'
        training quantiles; a model whose weights are then loaded needs neither."""
        means = target_means or [0.0] * len(self.outputs())
        rescale = self.rescale if self.pixels else 1.0
        inputs = {"numeric": self.numeric, "numeric_stats": numeric_stats, "categorical": self.categorical}

        def one(target: Target, mean: float) -> DataShape:
            return DataShape(self.input_shape, target.task, len(target.class_names or []), rescale,
                             mean if target.task == "regression" else 0.0, transform=target.transform, **inputs)

        if not self.several:
            return one(self.outputs()[0], means[0])
        heads = tuple((t.head, one(t, m)) for t, m in zip(self.several, means))
        return DataShape(self.input_shape, self.task, 0, rescale, heads=heads, **inputs)

    # ---- on disk

    def to_json(self) -> dict:
        out = {"layout": LAYOUT, "kind": self.kind, **self.source.to_json(), "task": self.task,
               "class_names": self.class_names, "input_shape": list(self.input_shape), "rescale": self.rescale}
        if self.target_transform is not None:
            out["target_transform"] = self.target_transform.record()
        if self.several:
            out["targets"] = [{"name": t.name, "task": t.task, "class_names": t.class_names, "head": t.head,
                               **({"transform": t.transform.record()} if t.transform else {})} for t in self.several]
        return out

    @classmethod
    def from_json(cls, record: dict) -> Preparation:
        """A run's preprocessing.json, of this layout or an earlier one."""
        layout = record.get("layout", 1)
        if isinstance(layout, bool) or not isinstance(layout, int) or layout < 1:
            raise readback.DamagedFile(prepchecks.FILE, "layout", layout, f"a layout number (1 to {LAYOUT})")
        if layout > LAYOUT:
            raise RunError(f"preprocessing.json has layout {shown(layout)}, written by a newer nnlab (this one "
                           f"reads up to {LAYOUT}); upgrade nnlab to use this run")
        kind = record["kind"] if layout >= 2 else _layout1_kind(record)
        if kind not in SOURCES:
            raise RunError(f"preprocessing.json: unknown kind {shown(kind)} (known: {', '.join(KINDS)})")
        prepchecks.check_record(record)
        several = [Target(t["name"], t["task"], t.get("class_names"), t.get("head") or "",
                          TargetTransform.from_record(t.get("transform"))) for t in record.get("targets") or []]
        return cls(SOURCES[kind].from_json(record), record["task"], tuple(record["input_shape"]),
                   record.get("class_names"), float(record.get("rescale", 1.0)), several,
                   TargetTransform.from_record(record.get("target_transform")))


def _layout1_kind(record: dict) -> str:
    """The kind of a layout-1 record, which said it only by its keys: a table's columns, an image folder's
    image size, or neither (arrays, standardized or not)."""
    if "columns" in record:
        return "table"
    return "image_folder" if record.get("type") == "images" and "image_size" in record else "arrays"


def preparation_of(dataset) -> Preparation:
    """A `Dataset`'s preparation: its source's record and what it holds of the targets and the shape."""
    return Preparation(dataset.source, dataset.task, dataset.input_shape, dataset.class_names, dataset.rescale,
                       list(dataset.targets), dataset.target_transform)
