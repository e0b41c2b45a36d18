"""nnlab's version, in a module of its own: every floor may read it (a run's summary records it)
without importing the package's top, and pyproject.toml reads it from here."""

__version__ = "0.3.0"
