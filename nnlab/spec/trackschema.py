"""`track:`, the spec's optional section naming the MLflow tracking server its runs are sent to
(`nnlab run --track URI` and NNLAB_TRACKING_URI say the same from outside the spec). How a run is used,
not what it searches: never part of the spec's hash, so adding or changing it resumes the run."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from nnlab.errors import shown
from nnlab.spec.section import Section

SCHEMES = ("http", "https", "sqlite", "file", "postgresql", "mysql", "databricks")


class TrackSpec(Section):
    uri: str = Field(description="The MLflow tracking server: http://host:port, sqlite:///file.db, or "
                                 "file:folder (the last two need no server). `--track URI` overrides it.")
    experiment: str | None = Field(None, description="The MLflow experiment; default the run's name. "
                                                     "`--experiment` overrides it.")
    model: bool = Field(False, description="Send best.keras too (as `--track-model`).")

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = re.match(r"([a-z][a-z0-9+.-]*):", value.strip())
        if scheme is None or scheme.group(1).split("+")[0] not in SCHEMES:
            raise ValueError(f"a tracking URI begins with one of {', '.join(s + ':' for s in SCHEMES)}; found "
                             f"{shown(value)} (e.g. http://127.0.0.1:5000 or sqlite:///mlflow.db)")
        return value.strip()
