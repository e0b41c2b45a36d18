"""nnlab: hyperparameter experiments with Keras from one YAML spec.

The public API mirrors the CLI: `nnlab.load_spec`, `nnlab.run`, `nnlab.open`, `nnlab.validate`,
`nnlab.compare` (see `nnlab.api`). They are imported on first use, so `import nnlab` imports no TensorFlow; only
building or training a model does.
"""

from nnlab.version import __version__

API = ("load_spec", "run", "open", "validate", "compare")
__all__ = [*API, "__version__"]


def __getattr__(name: str):
    if name in API:
        from nnlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'nnlab' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
