"""The Python API (`import nnlab`): the commands' work from a notebook or a script."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import nnlab
from nnlab.errors import DataError, SpecError

SPEC = {"data": {"source": "csv", "target": "y"},
        "model": {"kind": "mlp", "layers": 1, "units": {"choice": [4, 8]}},
        "train": {"epochs": 2, "batch_size": 16}, "search": {"max_trials": 1}}


def frame(rows: int = 80):
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=rows)
    return pd.DataFrame({"x": x, "colour": rng.choice(["red", " blue"], rows), "y": np.where(x > 0, "up", "down")})


def test_import_nnlab_is_light_and_offers_the_api():
    code = ("import sys, nnlab; assert callable(nnlab.run) and callable(nnlab.compare); "
            "assert callable(nnlab.load_spec) and callable(nnlab.validate); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert {"run", "compare", "load_spec", "validate"} <= set(dir(nnlab))
    with pytest.raises(AttributeError):
        nnlab.nothing_here  # noqa: B018


def test_a_spec_from_a_dict_with_overrides_as_a_dict_or_as_set_strings(tmp_path):
    spec = nnlab.load_spec({**SPEC, "data": {"source": "sklearn:iris"}}, {"search.max_trials": 3})
    assert spec.search.max_trials == 3 and spec.name == "run"
    again = nnlab.load_spec(spec, ["search.max_trials=5", "name=iris"])
    assert again.search.max_trials == 5 and again.name == "iris" and spec.search.max_trials == 3
    with pytest.raises(SpecError, match="did you mean `units`"):
        nnlab.load_spec({"data": {"source": "sklearn:iris"}, "model": {"kind": "mlp", "unitz": 3}})
    (tmp_path / "s.yaml").write_text("data: {source: csv, target: y}\nmodel: {kind: mlp}\n")
    with pytest.raises(SpecError, match="data.path"):  # a spec file still needs its CSV file
        nnlab.load_spec(tmp_path / "s.yaml")


def test_a_csv_spec_without_a_file_or_a_frame_says_what_to_give():
    from nnlab.data.load import load_data

    with pytest.raises(DataError, match="data=frame"):
        load_data(nnlab.load_spec(SPEC))


@pytest.mark.slow
def test_run_and_validate_on_a_dataframe(tmp_path):
    info = nnlab.validate(SPEC, data=frame())
    assert info.data.startswith("DataFrame (80 rows × 3 columns)") and "units" in info.space
    result = nnlab.run(SPEC, data=frame(), runs_dir=tmp_path / "runs", name="frame", quiet=True)
    assert result.exit_code == 0 and result.summary.data == "DataFrame (80 rows × 3 columns)"
    assert result.summary.classes == ["down", "up"] and result.records[0].status == "completed"
    rows = nnlab.compare(tmp_path / "runs").rows
    assert rows[0]["run"] == "frame" and rows[0]["completed"] == 1
