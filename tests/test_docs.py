"""The manual (README.md and the site's pages in docs/): its examples must be valid specs, as the schema
and as nnlab read them; each command has a guide section and says its exit codes; every spec field is
described in the spec guide."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.spec.loader import load_spec

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
MANUAL = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))])
COMMANDS_GUIDE = (DOCS / "commands.md").read_text(encoding="utf-8")
SPEC_GUIDE = (DOCS / "spec.md").read_text(encoding="utf-8")
BASE = {"data": {"source": "sklearn:iris"}, "model": {"kind": "mlp"}}
runner = CliRunner()


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", MANUAL, flags=re.S)


def pairs(block: str) -> list[tuple[str, object]]:
    """The block's top-level keys and values, in order, repeated keys included (the search-space
    block shows one field several ways)."""
    node = yaml.compose(block, Loader=yaml.SafeLoader)
    if node is None:
        return []
    out = []
    for key, value in node.value:
        out.append((key.value, yaml.safe_load(yaml.serialize(value))))
    return out


def as_specs(block: str) -> list[dict]:
    """A manual block as whole specs: itself when it is one, else each of its keys put where it belongs
    (a top-level section, or a field of model or train) in a minimal spec."""
    found = pairs(block)
    keys = [k for k, _ in found]
    if "data" in keys and "model" in keys:
        return [dict(found)]
    specs = []
    model_fields = {"layers", "units", "activation", "dropout", "batch_norm", "l2", "per_layer"}
    for key, value in found:
        spec = json.loads(json.dumps(BASE))
        if key in ("name", "seed", "data", "model", "train", "search", "track"):
            spec[key] = value
        elif key in model_fields:
            spec["model"][key] = value
        else:
            spec.setdefault("train", {})[key] = value
        specs.append(spec)
    return specs


@pytest.fixture(scope="module")
def validator():
    import jsonschema

    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    return jsonschema.Draft202012Validator(json.loads(result.output))


def test_the_readme_has_yaml_examples():
    assert len(yaml_blocks()) >= 3
    assert any("kind: sequential" in block for block in yaml_blocks())


@pytest.mark.parametrize("index", range(len(yaml_blocks())))
def test_every_readme_example_is_a_valid_spec(index, validator, tmp_path):
    for spec in as_specs(yaml_blocks()[index]):
        errors = [e.message for e in validator.iter_errors(spec)]
        assert not errors, (spec, errors)
        path = tmp_path / "example.yaml"
        path.write_text(yaml.safe_dump(spec), encoding="utf-8")
        load_spec(path)  # nnlab reads it too


def test_every_shipped_config_is_valid(validator):
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert not [e.message for e in validator.iter_errors(spec)], path
        load_spec(path)


def test_bare_layer_names_are_valid_in_the_schema(validator):
    spec = {**BASE, "model": {"kind": "sequential", "layers": ["Flatten", {"Dense": {"units": 8}}, "Dropout"]}}
    assert not list(validator.iter_errors(spec))
    wrong = {**BASE, "model": {"kind": "sequential", "layers": ["Flaten"]}}
    assert list(validator.iter_errors(wrong))  # an editor flags the typo


@pytest.mark.slow
def test_the_readme_sequential_example_builds(tmp_path):
    (block,) = [b for b in yaml_blocks() if "kind: sequential" in b]
    path = tmp_path / "sequential.yaml"
    path.write_text(block, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])  # builds the smallest and largest models
    assert result.exit_code == 0, result.output
    for name in re.findall(r"`(\w+\d_\w+)`", MANUAL[MANUAL.index("Searched arguments become"):][:400]):
        assert name in result.output, name  # the hyperparameter names the manual gives


def command_names() -> list[str]:
    return [c.name or c.callback.__name__ for c in app.registered_commands]


@pytest.mark.parametrize("name", command_names())
def test_every_command_says_its_exit_codes(name):
    """In its docstring: `nnlab NAME --help` and the generated reference show them."""
    (info,) = [c for c in app.registered_commands if (c.name or c.callback.__name__) == name]
    assert "Exit codes:" in (info.callback.__doc__ or ""), f"`nnlab {name}`'s docstring does not give its exit codes"


def test_every_command_has_a_section_in_the_guide():
    for name in command_names():
        assert f"## `nnlab {name}" in COMMANDS_GUIDE, f"`nnlab {name}` has no section in docs/commands.md"


def spec_fields() -> list[tuple[str, str]]:
    from nnlab.spec import schema

    sections = [schema.Spec, schema.CsvData, schema.ImageData, schema.NpzData, schema.BundledData, schema.MlpModel,
                schema.CnnModel, schema.SequentialModel, schema.Augment, schema.TrainSpec, schema.EarlyStopping,
                schema.SearchSpec, schema.Objective]
    return [(section.__name__, name) for section in sections for name in section.model_fields]


@pytest.mark.parametrize("section, field", spec_fields())
def test_every_spec_field_is_in_the_spec_guide(section, field):
    assert f"`{field}`" in SPEC_GUIDE or f"{field}:" in SPEC_GUIDE, f"{section}.{field} is not in docs/spec.md"


# ------------------------------------------------------------------------------------ the developers' map


def layout_section() -> str:
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")  # (the maintainers' page of the site)
    return design.split("\n## Layout\n", 1)[1]


def test_every_module_the_records_map_names_exists():
    """The map of records names modules as `package/module.py`: each is a file of nnlab."""
    flow = layout_section().split("### The records", 1)[1].split("### The modules", 1)[0]
    named = set(re.findall(r"(?<![\w/])((?:[a-z]+/)+[a-z_]+\.py)\b", flow))
    assert len(named) >= 15
    missing = sorted(n for n in named if not (ROOT / "nnlab" / n).is_file())
    assert not missing, f"the design page's map names modules that do not exist: {missing}"


def test_the_module_tree_names_every_module_and_only_those():
    """The tree lists each package's modules under its folder: none missing, none made up."""
    tree = re.search(r"```\n(nnlab/\n.*?)```", layout_section(), flags=re.S).group(1)
    named, folders = set(), {}  # folders: indent → the folder a line at that indent names (engine/, pack/)
    for line in tree.splitlines()[1:]:
        indent = len(line) - len(line.lstrip())
        if line.strip() and indent == 0:  # (configs/, benchmarks/, …: the package ends)
            break
        if not line.strip():
            continue
        first = line.split()[0]
        if first.endswith("/") and not first.endswith(".py/") and indent in (2, 4, 6):
            folders = {i: f for i, f in folders.items() if i < indent} | {indent: first}
            continue
        if indent in (2, 4, 6):  # a module line: in the folders opened at smaller indents
            folders = {i: f for i, f in folders.items() if i < indent}
        folder = "".join(folders[i] for i in sorted(folders))
        named |= {folder + name for name in re.findall(r"\b([a-z_]+\.py)\b", line)}
    actual = {str(p.relative_to(ROOT / "nnlab")) for p in (ROOT / "nnlab").rglob("*.py")
              if p.name not in ("__init__.py", "__main__.py")}
    assert sorted(actual - named) == [], "modules the design page's tree leaves out"
    assert sorted(named - actual) == [], "modules the design page's tree names that do not exist"
