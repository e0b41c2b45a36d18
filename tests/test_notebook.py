"""docs/notebook.ipynb, executed as a user runs it: in a real Jupyter kernel (nbclient), at tiny size."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_the_worked_notebook_runs_in_a_real_kernel(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    (tmp_path / "docs").mkdir()
    (tmp_path / "configs" / "data").mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "notebook.ipynb", tmp_path / "docs")
    shutil.copy(ROOT / "configs" / "data" / "mpg.csv", tmp_path / "configs" / "data")
    monkeypatch.setenv("NNLAB_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("NNLAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    notebook = nbformat.read(tmp_path / "docs" / "notebook.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path / "docs")}}).execute()

    with (tmp_path / "docs" / "predictions.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["predictions"] and len(rows) == 1 + 80  # the 20% holdout of 398 rows
    assert all(float(r[0]) > 0 for r in rows[1:])
    sweep = next(c for c in notebook.cells if "nnlab.run(" in c.source)
    html = [o for o in sweep.outputs if o.output_type in ("display_data", "execute_result") and "text/html" in o.data]
    bars = [o for o in html if "sweep" in o.data["text/html"] and "█" in o.data["text/html"]
            or "░" in o.data["text/html"]]
    assert len(bars) == 1, "the progress is one display, updated in place"
    assert "2/2" in bars[0].data["text/html"]
    assert any("Top 2 trials" in o.data["text/html"] for o in html)  # the run's summary table
    assert len(sweep.outputs) < 15  # a line per trial and the header, not a line per redraw
    plots = next(c for c in notebook.cells if "run.plot()" in c.source)
    assert sum(o.output_type == "display_data" and "image/png" in o.data for o in plots.outputs) == 6
    assert (tmp_path / "runs" / "mpg-notebook" / "plots" / "learning_curves.png").is_file()
