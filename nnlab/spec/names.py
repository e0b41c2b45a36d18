"""Every list of names a user writes, in a spec or on the command line, each defined once with what it
means: the schema and the commands take the names from here, and the layers that act on them (the
model builder, the tuner, export, compare) take their meaning from here too. No TensorFlow, nothing
imported: `nnlab --help` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Meaning:
    """What a name stands for: the Keras (or Keras Tuner) class it is, where it has one, and words."""

    keras: str | None
    words: str


ACTIVATIONS = ("relu", "elu", "selu", "gelu", "tanh", "sigmoid", "swish", "leaky_relu")  # Keras's own names
SCHEDULES = ("constant", "cosine")  # train.schedule (engine.callbacks.schedule)
NUMERIC_SCALINGS = ("standard", "robust", "quantile")  # model.scaling (engine.tabular.numeric)
NUMERIC_EMBEDDINGS = ("none", "periodic", "piecewise")  # model.embedding (engine.tabular.numeric)
QUANTILES = 33  # their training quantiles per numeric feature: 32 bins for the piecewise-linear encoding
FREQUENCIES = 48  # model.embedding periodic: frequencies per feature (rtdl's default)
CATEGORICAL_ENCODINGS = ("onehot", "embedding")  # model.categorical (engine.tabular.features)
ONE_HOT_UP_TO = 9  # model.categorical embedding: a column of at most this many one-hot columns stays one-hot
CATEGORY_EMBEDDING = 8  # … and a wider one becomes this many learned numbers (RealMLP's 9 and 8, pytabkit)
SKLEARN_SETS = ("digits", "iris", "wine", "breast_cancer", "diabetes")  # data.source sklearn:NAME
KERAS_SETS = ("mnist", "fashion_mnist", "cifar10", "cifar100", "boston_housing")  # data.source keras:NAME

# train.optimizer → keras.optimizers.<keras>
OPTIMIZERS = {
    "adam": Meaning("Adam", "Adam"),
    "adamw": Meaning("AdamW", "Adam with decoupled weight decay"),
    "sgd": Meaning("SGD", "stochastic gradient descent"),
    "rmsprop": Meaning("RMSprop", "RMSprop"),
    "nadam": Meaning("Nadam", "Adam with Nesterov momentum"),
}

# search.tuner → keras_tuner.<keras>
TUNERS = {
    "random": Meaning("RandomSearch", "random points of the space"),
    "grid": Meaning("GridSearch", "every configuration of the space, in order"),
    "bayesian": Meaning("BayesianOptimization", "a Gaussian process proposes the next point"),
    "hyperband": Meaning("Hyperband", "many short trials, the best trained longer"),
}

# train.loss of a regression → keras.losses.<keras> (classification always uses crossentropy)
LOSSES = {
    "mse": Meaning("MeanSquaredError", "mean squared error (the regression default)"),
    "mae": Meaning("MeanAbsoluteError", "mean absolute error"),
    "huber": Meaning("Huber", "squared near zero, absolute further out"),
    "poisson": Meaning("Poisson", "Poisson deviance, for counts: the output is a rate, exp(z), never negative"),
    "crossentropy": Meaning(None, "classification's loss (for a regression: mse)"),
}

# train.metrics of a regression → keras.metrics.<keras>
REGRESSION_METRICS = {
    "mae": Meaning("MeanAbsoluteError", "mean absolute error"),
    "mse": Meaning("MeanSquaredError", "mean squared error"),
    "rmse": Meaning("RootMeanSquaredError", "root mean squared error"),
    "r2": Meaning("R2Score", "coefficient of determination"),
}

# train.metrics of a classification (accuracy is always logged). VALIDATION_ONLY_METRICS are computed on
# the validation data only (logged as val_NAME), by nnlab's own metrics (`engine.model.metrics`) or Keras's.
CLASSIFICATION_METRICS = {
    "accuracy": Meaning(None, "the share of rows classified right"),
    "f1": Meaning(None, "macro F1 (nnlab's, as scikit-learn computes it)"),
    "auc": Meaning("AUC", "area under the ROC curve"),
    "pr_auc": Meaning("AUC", "area under the precision-recall curve"),
    "precision": Meaning("Precision", "precision"),
    "recall": Meaning("Recall", "recall"),
}
VALIDATION_ONLY_METRICS = ("f1", "auc", "pr_auc", "precision", "recall")


@dataclass(frozen=True)
class ExportFormat:
    suffix: str | None  # what the output's name must end in (None: a folder)
    packages: tuple[str, ...]  # the modules it needs beyond TensorFlow (pip install 'nnlab[export]')
    words: str


# nnlab export --format
EXPORT_FORMATS = {
    "keras": ExportFormat(".keras", (), "one .keras file"),
    "savedmodel": ExportFormat(None, (), "a TensorFlow SavedModel for serving"),
    "onnx": ExportFormat(".onnx", ("tf2onnx", "onnx", "onnxruntime"), "for onnxruntime (pip install "
                                                                      "'nnlab[export]')"),
    "litert": ExportFormat(".tflite", ("ai_edge_litert",), "a .tflite file for phones"),
    "coreml": ExportFormat(".mlpackage", ("coremltools",), "an .mlpackage for Apple devices"),
}

# nnlab compare --format
OUTPUT_FORMATS = {
    "table": "a table for the terminal",
    "csv": "one CSV row per trial",
    "markdown": "a Markdown table",
    "json": "every run's summary and trials",
}


def words_of(names: dict) -> str:
    """`name: words; …` for a help text."""
    return "; ".join(f"{name}: {getattr(m, 'words', m)}" for name, m in names.items())
