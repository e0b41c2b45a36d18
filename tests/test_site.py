"""The documentation site (issue 33): its reference pages are what the code generates (never typed by
hand), they name every command, option and spec field, and the site builds with `mkdocs build --strict`
(a broken link or a page outside the navigation fails)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnlab import reference

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("page", sorted(reference.PAGES))
def test_the_reference_pages_are_what_the_code_generates(page):
    on_disk = (ROOT / "docs" / "reference" / page).read_text(encoding="utf-8")
    assert on_disk == reference.PAGES[page](), (
        f"docs/reference/{page} is out of date: run `python -m nnlab.reference docs/reference`")


def test_every_command_and_option_is_in_the_reference():
    import typer.main

    from nnlab.cli import app

    page = reference.cli_reference()
    for name, command in typer.main.get_command(app).commands.items():
        assert f"## `nnlab {name}" in page
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-") and opt != "--help":
                    assert f"`{opt}`" in page, f"{name} {opt}"


def test_every_spec_field_is_in_the_reference():
    from nnlab.spec import schema

    page = reference.spec_reference()
    for section, prefix in ((schema.TrainSpec, "train"), (schema.SearchSpec, "search"), (schema.CsvData, "data"),
                            (schema.ImageData, "data"), (schema.Spec, "")):
        for name in section.model_fields:
            assert f"`{prefix + '.' if prefix else ''}{name}`" in page, name


@pytest.mark.skipif(shutil.which("mkdocs") is None and not (Path(sys.executable).parent / "mkdocs").exists(),
                    reason="MkDocs is not installed (pip install -e '.[dev]')")
def test_the_site_builds_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).parent / "mkdocs")
    done = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
