"""nnlab: hyperparameter experiments with Keras from one YAML spec.

The public API mirrors the CLI: `load_spec`, `run`, `compare`, `validate`. Importing nnlab does not
import TensorFlow; only building or training a model does.
"""

__version__ = "0.1.0"
