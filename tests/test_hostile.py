"""The hostile-input corpus: specs, data and options made to hang nnlab, crash it or exhaust the machine.
Each must give its exit code (2) with one `error:` message saying what is wrong and how to get past it,
no traceback, and leave an existing run folder as it was. None of these imports TensorFlow: every
limit is checked before a model is built. (Model files and exports: test_modelfiles.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.errors import SpecError
from nnlab.spec.limits import SPEC_DEPTH
from tests.test_bad_inputs import IRIS, OK_MODEL, png_folder, snapshot

runner = CliRunner()


def laughs(levels: int = 10, width: int = 9) -> str:
    """A "billion laughs" spec: 1 KB of anchors and aliases that expands to width**levels values."""
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\n{IRIS}name: *a{levels - 1}\n"


def csv_rows(columns: int, rows: int) -> str:
    header = ",".join(f"c{i}" for i in range(columns)) + ",y\n"
    return header + "".join(",".join(str((r * 7 + i) % 5) for i in range(columns)) + f",{r % 2}\n"
                            for r in range(rows))


CSV = "data: {source: csv, path: d.csv, target: y}\n"
MPG = "x1,x2,x3,y\n" + "".join(f"{i},{i % 7},{i % 3},{i * 0.5}\n" for i in range(40))

# (id, spec text, extra files, extra CLI args, environment, expected fragment)
CASES = [
    ("yaml-billion-laughs", laughs(), {}, [], {}, "more than 20,000 values once its YAML aliases"),
    ("yaml-alias-cycle", "x: &a [1, *a]\n" + IRIS, {}, [], {}, "refers to a section that holds it"),
    ("yaml-deep-nesting", "x: " + "[" * 200 + "]" * 200 + "\n" + IRIS, {}, [], {}, f"more than {SPEC_DEPTH} deep"),
    ("yaml-deeper-than-pyyaml", "x: " + "[" * 3000 + "]" * 3000 + "\n" + IRIS, {}, [], {}, f"{SPEC_DEPTH} deep"),
    ("spec-too-large", IRIS + "# " + "x" * (2 * 1024 * 1024) + "\n", {}, [], {}, "larger than 1,048,576 bytes"),
    ("spec-limit-set-wrong", IRIS, {}, [], {"NNLAB_MAX_SPEC_BYTES": "lots"}, "NNLAB_MAX_SPEC_BYTES='lots' is not"),
    ("set-python-tag", IRIS, {}, ["--set", "name=!!python/object/apply:os.system ['x']"], {},
     "YAML tags that construct Python objects are not allowed in a spec (!!python/object/apply:os.system)"),
    ("set-laughs", IRIS, {}, ["--set", "name=" + laughs().split(f"\n{IRIS}")[0].replace("\n", ", ")], {}, "not valid"),
    ("set-alias-cycle", IRIS, {}, ["--set", "name=&a [*a]"], {}, "refers to a section that holds it"),
    ("mlp-units-absurd", CSV + OK_MODEL, {"d.csv": MPG}, ["--set", "model.units=1000000000"], {},
     "the largest model this spec allows (units=[1000000000, 1000000000]"),
    ("mlp-units-searched-absurd", CSV + "model: {kind: mlp, units: {choice: [8, 100000000]}}\n", {"d.csv": MPG}, [], {},
     "set NNLAB_MAX_MODEL_GB"),
    ("mlp-layers-absurd", IRIS, {}, ["--set", "model.layers=10000"], {}, "expected a value ≤ 100; found 10000"),
    ("mlp-layers-range-absurd", IRIS, {}, ["--set", "model.layers={int: [1, 5000]}"], {}, "≤ 100"),
    ("batch-absurd", IRIS, {}, ["--set", "train.batch_size=100000000000", "--set", "model.units=100000"],
     {"NNLAB_MAX_MODEL_GB": "0.5"}, "limit is 0.5 GiB (NNLAB_MAX_MODEL_GB=0.5)"),
    ("model-limit-set-wrong", IRIS, {}, [], {"NNLAB_MAX_MODEL_GB": "-3"}, "NNLAB_MAX_MODEL_GB='-3' is not"),
    ("sequential-absurd", "data: {source: 'sklearn:iris'}\nmodel: {kind: sequential, layers: [{Dense: {units: "
     "1000000000}}, {Dense: {units: 1000000000}}]}\n", {}, [], {}, "Dense(units=1000000000)"),
    ("sequential-too-many-layers", "data: {source: 'sklearn:iris'}\nmodel: {kind: sequential, layers: ["
     + ", ".join(["Dropout"] * 400) + "]}\n", {}, [], {}, "at most 300"),
    ("cnn-absurd", "data: {source: images, path: pics, image_size: [512, 512], keep_decoded: false}\n"
     "model: {kind: cnn, filters: 100000, conv_blocks: 3}\n", {"pics": png_folder}, [], {}, "conv_blocks=3"),
    ("cnn-blocks-absurd", "data: {source: images, path: pics}\nmodel: {kind: cnn, conv_blocks: 500}\n", {}, [], {},
     "≤ 20"),
    ("csv-device", "data: {source: csv, path: /dev/zero, target: y}\n" + OK_MODEL, {}, [], {},
     "/dev/zero is not a regular file"),
    ("csv-fifo", CSV + OK_MODEL, {"d.csv": lambda p: os.mkfifo(p)}, [], {}, "d.csv is not a regular file"),
    ("csv-folder", CSV + OK_MODEL, {"d.csv": lambda p: p.mkdir()}, [], {}, "d.csv is a folder"),
    ("npz-device", "data: {source: npz, path: /dev/zero}\n" + OK_MODEL, {}, [], {}, "not a regular file"),
    ("images-device", "data: {source: images, path: /dev/zero}\nmodel: {kind: cnn}\n", {}, [], {}, "is not a folder"),
    ("csv-too-wide", CSV + OK_MODEL, {"d.csv": csv_rows(10_001, 3)}, [], {}, "10,002 columns, more than the 10,000"),
    ("csv-one-row", CSV + OK_MODEL, {"d.csv": "a,b,y\n1,2,3\n"}, [], {}, "has 1 row with a target; training"),
    ("csv-rows-without-target", CSV + OK_MODEL, {"d.csv": "a,b,y\n1,2,3\n3,4,\n5,6,\n"}, [], {},
     "has 1 row with a target"),
    ("csv-two-rows", CSV + OK_MODEL, {"d.csv": "a,b,y\n1,2,3\n3,4,5\n"}, [], {}, "has 2 rows with a target"),
]


def _prepare(tmp_path: Path, text: str, files: dict) -> Path:
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(text)
    for name, content in files.items():
        target = tmp_path / name
        content(target) if callable(content) else target.write_text(content)
    return spec_path


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("case_id, text, files, args, env, expected", CASES, ids=[c[0] for c in CASES])
def test_hostile_input(tmp_path, monkeypatch, command, case_id, text, files, args, env, expected, make_run):
    runs = tmp_path / "runs"
    make_run(runs, "existing", [0.3, 0.2])
    before = snapshot(runs)
    spec_path = _prepare(tmp_path, text, files)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [command, str(spec_path), "--runs-dir", str(runs), *args])
    output = result.output.replace(str(tmp_path), "<tmp>")
    assert result.exit_code == 2, f"exit {result.exit_code}: {output[:2000]}\n{result.exception!r}"
    assert "Traceback" not in output and output.startswith("error: ") and output.count("error: ") == 1, output[:2000]
    assert expected in output, f"{expected!r} not in:\n{output[:2000]}"
    assert len(output) < 2000, "a message repeats a huge value"
    assert snapshot(runs) == before and sorted(p.name for p in runs.iterdir()) == ["existing"]


def test_a_set_value_refused_for_its_yaml_is_one_line(tmp_path):
    spec_path = _prepare(tmp_path, IRIS, {})
    for value in ("!!python/object/apply:os.system ['x']", "[1, 2", "{a: 1", "&a [*a]"):
        result = runner.invoke(app, ["validate", str(spec_path), "--set", f"name={value}"])
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output


def test_a_huge_value_is_cut_in_the_message(tmp_path):
    spec_path = _prepare(tmp_path, f"name: {'a' * 200_000}\n" + IRIS, {})
    result = runner.invoke(app, ["validate", str(spec_path)])
    assert result.exit_code == 2 and "(200,000 characters)" in result.output and len(result.output) < 1000


def test_the_limits_can_be_raised(tmp_path, monkeypatch):
    from nnlab.spec.loader import load_spec

    big = _prepare(tmp_path, IRIS + "# " + "x" * (2 * 1024 * 1024) + "\n", {})
    monkeypatch.setenv("NNLAB_MAX_SPEC_BYTES", str(4 * 1024 * 1024))
    assert load_spec(big).model.kind == "mlp"
    aliased = _prepare(tmp_path, laughs(levels=5, width=9), {})  # 59,049 values
    with pytest.raises(SpecError, match="NNLAB_MAX_SPEC_VALUES"):
        load_spec(aliased)
    monkeypatch.setenv("NNLAB_MAX_SPEC_VALUES", "200000")
    with pytest.raises(SpecError, match="unknown key `a0`"):  # read whole now, and refused for what it says
        load_spec(aliased)


def test_a_model_larger_than_the_default_limit_validates_once_the_limit_is_raised(tmp_path, monkeypatch):
    spec_path = _prepare(tmp_path, CSV + OK_MODEL, {"d.csv": MPG})
    args = ["validate", str(spec_path), "--set", "model.units=1000000", "--set", "model.layers=3"]
    monkeypatch.setenv("NNLAB_MAX_MODEL_GB", "1")
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "2,000,006,000,001 parameters" in refused.output  # (counted as Keras does)
    monkeypatch.setenv("NNLAB_MAX_MODEL_GB", "1000000")
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "largest model: 2,000,006,000,001 parameters" in result.output, result.output


def test_a_long_list_of_widths_reads_short():
    from nnlab.runs.fmt import fmt_value

    assert fmt_value([128] * 100) == "[128] × 100"
    assert fmt_value(list(range(20))) == "[0, 1, 2, … 20 in all]"
    assert fmt_value([16, 32]) == "[16, 32]"


def test_chief_refuses_every_interface_without_any_host(tmp_path):
    spec_path = _prepare(tmp_path, IRIS, {})
    result = runner.invoke(app, ["chief", str(spec_path), "--bind", "0.0.0.0:8765", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2 and "no authentication" in result.output and "--any-host" in result.output
    assert not (tmp_path / "spec").exists()


def test_chief_warns_for_addresses_beyond_this_machine():
    from nnlab.distributed.chief import bind_warning

    assert bind_warning("127.0.0.1", False) is None and bind_warning("localhost", False) is None
    assert "private network" in bind_warning("10.0.0.11", False)
    assert "public address" in bind_warning("8.8.8.8", False)
    assert "every network interface" in bind_warning("0.0.0.0", True)


def test_a_fifo_or_device_as_a_spec_is_refused_at_once(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code == 2 and "is not a regular file" in result.output


def test_compare_of_one_damaged_run_says_so(tmp_path, make_run):
    run = make_run(tmp_path / "runs", "hurt", [0.9444, 0.9833, 0.95], direction="max", objective="val_accuracy")
    (run / "spec.yaml").write_text("search: {objective: val_accuracy}\n")
    (run / "summary.json").write_text("{ broken")
    result = runner.invoke(app, ["compare", str(run)])
    assert result.exit_code == 0 and "warning:" in result.output and "summary.json is damaged" in result.output
    assert result.output.index("0.9833") < result.output.index("0.95") < result.output.index("0.9444")  # best first


def test_a_damaged_runs_best_follows_its_spec_copy_direction(tmp_path, make_run):
    from nnlab.runs.compare import compare

    run = make_run(tmp_path / "runs", "hurt", [0.9444, 0.9833, 0.95], direction="max", objective="val_accuracy")
    make_run(tmp_path / "runs", "fine", [0.5], direction="max", objective="val_accuracy")
    (run / "spec.yaml").write_text("search: {objective: val_accuracy}\n")
    (run / "summary.json").unlink()
    rows = {r["run"]: r for r in compare([tmp_path / "runs"]).rows}
    assert rows["hurt"]["best_score"] == pytest.approx(0.9833) and rows["hurt"]["status"].startswith("damaged")
    (run / "spec.yaml").write_text("search: {objective: {name: val_accuracy, direction: min}}\n")
    assert {r["run"]: r for r in compare([tmp_path / "runs"]).rows}["hurt"]["best_score"] == pytest.approx(0.9444)


def test_an_image_folder_skips_bombs_truncated_files_and_pipes_saying_why(tmp_path):
    from PIL import Image

    from nnlab.data.images import read_image_folder

    png_folder(tmp_path / "pics", n=4)
    Image.new("L", (20_000, 20_000)).save(tmp_path / "pics" / "a" / "bomb.png")  # 400 M pixels, 400 KB on disk
    whole = (tmp_path / "pics" / "a" / "0.png").read_bytes()
    (tmp_path / "pics" / "b" / "cut.png").write_bytes(whole[: len(whole) // 2])
    os.mkfifo(tmp_path / "pics" / "b" / "pipe.png")
    folder = read_image_folder(tmp_path / "pics", (8, 8), "rgb")
    assert len(folder.images) == 8
    (note,) = [n for n in folder.notes if "could not be decoded" in n]
    assert note.startswith("2 image file(s)") and "bomb.png: over twice the 89,478,485 pixels" in note, note
    assert "cut.png" in note and any("not images were ignored" in n for n in folder.notes)


def test_the_size_estimate_names_no_estimate_for_layers_without_a_rule():
    from nnlab.spec.sizes import model_size

    assert model_size("sequential", {"layers": [["Dense", {"units": 4, "lora_rank": 2}]]}, (3,), 1) is None
    assert model_size("sequential", {"layers": [["Conv2D", {"filters": 4, "kernel_size": 3}]]}, (3,), 1) is None
    size = model_size("mlp", {"units": [4], "batch_norm": False, "dropout": 0}, (3,), 1)
    assert size.parameters == 3 * 4 + 4 + 4 + 1


def test_data_with_no_rows_to_spare_is_said_by_init_too(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,3\n")
    result = runner.invoke(app, ["init", str(tmp_path / "d.csv"), "-o", str(tmp_path / "s.yaml")])
    assert result.exit_code == 2 and "has 1 row with a target" in result.output
    np.testing.assert_equal(sorted(p.name for p in tmp_path.iterdir()), ["d.csv"])


def test_a_damaged_runs_direction_comes_from_trials_csv_without_a_spec_copy(tmp_path, make_run):
    from nnlab.runs.compare import compare

    run = make_run(tmp_path / "runs", "hurt", [0.9444, 0.9833, 0.95], direction="max", objective="val_accuracy")
    make_run(tmp_path / "runs", "fine", [0.5])
    (run / "summary.json").unlink()
    (run / "spec.yaml").unlink(missing_ok=True)
    row = {r["run"]: r for r in compare([tmp_path / "runs"]).rows}["hurt"]
    assert row["objective"] == "val_accuracy" and row["best_score"] == pytest.approx(0.9833)
