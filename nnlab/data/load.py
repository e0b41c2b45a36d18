"""Loading a spec's data: `load_data(spec)` reads the source `data.source` names (csv, images, npz,
sklearn:NAME, keras:NAME), splits off validation rows (seeded; stratified for classification where
possible), fits preprocessing on the training rows only, and returns a `Dataset` with notes for the
user. Each source's reader lives in its own module; only `keras:NAME` imports Keras (its downloaders).
"""

from __future__ import annotations

from nnlab.data import arrays
from nnlab.data.dataset import Dataset
from nnlab.errors import DataError
from nnlab.spec.schema import CsvData, ImageData, NpzData, Spec


def load_data(spec: Spec, frame=None) -> Dataset:
    """Read, split and preprocess the spec's data. Raises `DataError` with a clear message. `frame`: a
    pandas DataFrame that stands in for a CSV source's file (from Python: nnlab.run(spec, data=frame))."""
    if frame is not None and not isinstance(spec.data, CsvData):
        raise DataError(f"data= takes a DataFrame for a CSV source (source: csv); this spec's source is "
                        f"{spec.data.source}")
    data = spec.data
    if isinstance(data, CsvData):
        from nnlab.data.csvdata import load_csv  # pandas: ~0.3 s to import, only CSV data needs it

        dataset = load_csv(data, spec.seed, frame)
    elif isinstance(data, ImageData):
        from nnlab.data.images import load_images

        dataset = load_images(data, spec.seed)
    elif isinstance(data, NpzData):
        dataset = arrays.load_npz(data, spec.seed)
    elif data.source.startswith("sklearn:"):
        dataset = arrays.load_sklearn(data.source.split(":", 1)[1], spec.model.kind, data.validation_split, spec.seed)
    else:
        dataset = arrays.load_keras(data.source.split(":", 1)[1], data.validation_split, spec.seed)
    if spec.model.kind == "cnn" and dataset.kind != "images":
        raise DataError(
            f"model.kind cnn needs image data, but {spec.data.source} gives rows of {dataset.input_shape[0]} "
            "features; use model.kind: mlp for tabular data"
        )
    folds = getattr(spec.data, "folds", None)
    if folds:
        if getattr(spec.data, "validation_path", None):
            raise DataError("data.folds and data.validation_path exclude each other: folds validate on every row "
                            "in turn; remove one of them")
        rows = len(dataset.x_train) + len(dataset.x_val)
        if rows < 2 * folds:
            raise DataError(f"data.folds: {folds} folds need at least {2 * folds} rows; the data has {rows}")
        dataset.folds = folds
    if len(dataset.x_train) < 2 or len(dataset.x_val) < 1:
        raise DataError(f"Too little data to train and validate: {dataset.summary()}")
    return dataset
