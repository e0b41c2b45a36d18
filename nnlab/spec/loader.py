"""Reading a spec file: YAML → validated `Spec`, with errors that point at the file, key and line.

`load_spec(path, overrides)` is the one entry point. It reads the YAML (`spec.yamlread`: the safe
loader only, within the size limits), applies `--set KEY=VALUE` overrides, resolves relative
paths against the spec's folder, validates against `nnlab.spec.schema.Spec`, and turns every problem into a
`SpecError` that names the file, the key path, the line, what was expected and what was found.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from nnlab.errors import SpecError, did_you_mean, shown, web_address, web_address_message
from nnlab.spec import schema
from nnlab.spec.kinds import is_space
from nnlab.spec.objectives import check_spec
from nnlab.spec.source import SpecSource, spec_source
from nnlab.spec.yamlread import parse_yaml, read_spec_file, yaml_document

_TAGGED = {
    "csv": schema.CsvData, "images": schema.ImageData, "npz": schema.NpzData,
    "bundled": schema.BundledData, "mlp": schema.MlpModel, "cnn": schema.CnnModel,
    "sequential": schema.SequentialModel, "pretrained": schema.PretrainedModel,
}


def load_spec(path: str | Path, overrides=()) -> schema.Spec:
    """Read, override, resolve and validate a spec file. Raises `SpecError` on any problem.
    `overrides`: `KEY=VALUE` strings as `--set` takes them, or a mapping of dotted keys to values."""
    path = Path(path)
    if path.is_dir():
        raise SpecError(f"{path} is a folder; give the path of a spec file (.yaml)")
    text = read_spec_file(path)
    raw, lines = parse_yaml(text, path)
    if raw is None:
        raise SpecError(f"Spec file {path} is empty; it needs at least `data` and `model`")
    if not isinstance(raw, dict):
        raise SpecError(f"Spec file {path} must be a mapping of keys (data:, model:, …); found a {type(raw).__name__}")
    spec = _validated(raw, path, lines, overrides, default_name=path.stem, base=path.parent)
    if isinstance(spec.data, schema.CsvData) and spec.data.path is None:  # (only Python can give a DataFrame)
        raise spec_source(spec).error(("data", "path"), "`path` is required here and missing")
    return spec


def spec_from_dict(raw: dict, overrides=(), base: str | Path = ".") -> schema.Spec:
    """A spec given as Python data (what a spec file would hold), with `overrides` as for `load_spec`;
    relative data paths are relative to `base`. Errors name the key paths (there are no lines)."""
    if not isinstance(raw, dict):
        raise SpecError(f"A spec must be a mapping of keys (data, model, …); found a {type(raw).__name__}")
    raw = copy.deepcopy(raw)
    return _validated(raw, Path("<spec given in Python>"), {}, overrides, default_name="run", base=Path(base))


def _validated(raw: dict, path: Path, lines: dict, overrides, default_name: str, base: Path) -> schema.Spec:
    override_locs = _apply_overrides(raw, overrides, path)
    raw.setdefault("name", default_name)
    source = SpecSource(path, lines, override_locs)
    _resolve_paths(raw, base, source)
    try:
        spec = schema.Spec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_format_errors(exc, source)) from None
    spec._source = source  # kept for errors found later (objective vs. task)
    check_spec(spec)
    return spec


def spec_to_dict(spec: schema.Spec) -> dict:
    """The spec as plain data (what is written to a run folder's spec.yaml)."""
    def plain(value: Any) -> Any:
        if is_space(value):
            return plain(value.to_dict())
        if isinstance(value, BaseModel):
            return {k: plain(getattr(value, k)) for k in type(value).model_fields}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, Path):
            return str(value)
        return value

    return plain(spec)


# search.* keys that may change between invocations of one run: how long it runs, not what it searches
RESUMABLE_CHANGES = ("max_trials", "max_minutes", "max_failures", "keep", "refit", "pruning", "ensemble", "baseline",
                     "pack", "confirm")


# data.* keys that say how the data is held, not what it is: never part of a search's identity
HOW_NOT_WHAT = ("keep_decoded", "threshold")  # (how the images are kept, how the model is used)


# Spec keys added after nnlab 0.1, left out of the hash while they hold their default: a spec that does
# not use them hashes as it always did, so its runs resume.
ADDED_KEYS = {"data": {"encoding": None, "decimal": None, "thousands": None, "dayfirst": None, "dates": [],
                       "keep": [], "positive_class": None, "categories": schema.CATEGORIES,
                       "target_transform": "none", "frame": None, "split": None,
                       "test_split": None},
              "model": {"scaling": "standard", "embedding": "none", "embedding_size": 16, "members": 1,
                        "categorical": "onehot", "separable": False, "alpha": 1.0},
              "train": {"class_weight": "none", "sync_batch_norm": False, "weight_decay": None, "schedule": "constant",
                        "label_smoothing": 0.0},
              "search": {"constraints": None, "latency": None}}


def spec_hash(spec: schema.Spec, csv_reader: int | None = schema.CSV_READER) -> str:
    """A short hash of what defines a search (not how long it runs), to tell two searches apart. A CSV
    source's hash includes the version of the CSV reading rules (`csv_reader`; None for their first
    version, which runs of nnlab 0.2.0 before it had), so a run is never continued with features read another way."""
    data = spec_to_dict(spec)
    for key in RESUMABLE_CHANGES:
        data["search"].pop(key, None)
    for key in HOW_NOT_WHAT:
        data["data"].pop(key, None)
    data.pop("name", None)
    data.pop("track", None)  # (where the run is sent, not what it searches)
    for section, defaults in ADDED_KEYS.items():
        for key, default in defaults.items():
            if data[section].get(key, default) == default:
                data[section].pop(key, None)
    if (data["search"].get("constraints") or {}).get("max_latency_ms", 0) is None:  # (added after constraints)
        data["search"]["constraints"].pop("max_latency_ms")
    if data["data"].get("source") == "csv" and csv_reader is not None:
        data["data"]["reader"] = csv_reader
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _apply_overrides(raw: dict, overrides, path: Path) -> dict[tuple, str]:
    """Apply overrides in place: `KEY=VALUE` strings (dotted key, YAML value), or a mapping of dotted
    keys to values. Returns their key paths, with how each was written (for error messages)."""
    items = [(f"{k}={v}", k, v) for k, v in overrides.items()] if isinstance(overrides, dict) else \
        [(item, *_parse_override(item)) for item in overrides]
    applied: dict[tuple, str] = {}
    for item, key, value in items:
        parts = key.strip().split(".")
        target = raw
        for part in parts[:-1]:
            child = target.get(part)
            if child is None:
                child = target[part] = {}
            if not isinstance(child, dict):
                raise SpecError(f"--set {shown(item)}: `{part}` is not a section that has keys")
            target = child
        target[parts[-1]] = value
        applied[tuple(parts)] = item
    return applied


def _parse_override(item: str) -> tuple[str, Any]:
    key, sep, value_text = item.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"--set {shown(item)}: expected KEY=VALUE, e.g. --set search.max_trials=2")
    if not value_text.strip():
        return key.strip(), None
    return key.strip(), yaml_document(value_text, f"--set {shown(item)}", "the value")[1]


def _resolve_paths(raw: dict, base: Path, source: SpecSource) -> None:
    """Paths in a spec are relative to the spec file: data.path, data.validation_path, and a pretrained
    model's weights file."""
    data, model = raw.get("data"), raw.get("model")
    places = [(data, "path"), (data, "validation_path")]
    if isinstance(model, dict) and model.get("kind") == "pretrained" \
            and str(model.get("weights", "imagenet")).strip().lower() not in ("imagenet", "none"):
        places.append((model, "weights"))
    for section, key in places:
        value = section.get(key) if isinstance(section, dict) else None
        if isinstance(value, str) and web_address(value):
            raise source.error(("data" if section is data else "model", key), web_address_message(web_address(value)))
        if isinstance(value, str) and value:
            p = Path(value).expanduser()
            section[key] = str(p if p.is_absolute() else (base / p).resolve())


# ------------------------------------------------------------------------------------ errors


def _format_errors(exc: ValidationError, source: SpecSource) -> str:
    errors = exc.errors()
    # A union such as `str | Objective` reports every branch; keep the one that fits the input's shape.
    if any(_branch(e) == "model" for e in errors):
        errors = [e for e in errors if _branch(e) != "scalar"] or errors
    problems = []
    for err in errors:
        loc, cls = _display_loc(err["loc"])
        problems.append((loc, _describe(err, loc, cls)))
    # "`model` is required" says nothing new next to "unknown key `modle` (did you mean `model`?)"
    suggested = {(loc[:-1], m.split("did you mean `")[1].split("`")[0]) for loc, m in problems
                 if m.startswith("unknown key") and "did you mean `" in m}
    problems = [(loc, m) for loc, m in problems if not (m.endswith("required here and missing")
                                                         and (loc[:-1], loc[-1]) in suggested)]
    problems = _one_per_key(problems)
    problems.sort(key=lambda p: source.line_of(p[0]))
    if len(problems) == 1:
        return source.error(*problems[0]).args[0]
    listed = "\n".join(f"  - {source.position(loc)}: {message}" for loc, message in problems)
    return f"Spec error in {source.path} ({len(problems)} problems):\n{listed}"


_SCALAR_LABELS = {"str", "int", "float", "bool"}
_UNION_TAG = re.compile(r"^(constrained-\w+|literal\[.*\]|function-\w+\[.*\])$")  # pydantic's branch names


def _one_per_key(problems: list[tuple]) -> list[tuple]:
    """The branches of a union (`int >= 1 | 'auto'`) as one problem per key: 'input should be greater
    than or equal to 1, or expected 'auto'; found 0'."""
    merged: dict[tuple, list[str]] = {}
    for loc, message in problems:
        merged.setdefault(loc, []).append(message)
    out = []
    for loc, messages in merged.items():
        found = [m.rsplit("; found ", 1)[1] for m in messages if "; found " in m]
        if len(messages) > 1 and len(found) == len(messages):
            messages = [", or ".join(m.rsplit("; found ", 1)[0] for m in messages) + f"; found {found[0]}"]
        out += [(loc, m) for m in messages]
    return out


def _branch(err: dict) -> str | None:
    """'scalar' or 'model' when an error comes from one branch of a union, else None."""
    for part in err["loc"][:-1]:
        if part in _SCALAR_LABELS:
            return "scalar"
        if isinstance(part, str) and part[:1].isupper():
            return "model"
    return None


def _display_loc(loc: tuple) -> tuple[tuple, type | None]:
    """Drop union tags and branch labels from a pydantic location; return it and its section class."""
    cls: type | None = schema.Spec
    shown: list = []
    for i, part in enumerate(loc):
        fields = getattr(cls, "model_fields", {}) if cls else {}
        if part not in fields and part in _TAGGED:
            cls = _TAGGED[part]
            continue
        if part not in fields and isinstance(part, str) and _UNION_TAG.match(part):
            continue
        if part not in fields and i < len(loc) - 1 and isinstance(part, str) and (
                part in _SCALAR_LABELS or part[:1].isupper()):
            cls = getattr(schema, part, cls) if part[:1].isupper() else cls
            continue
        shown.append(part)
        annotation = fields[part].annotation if part in fields else None
        cls = _section_class(annotation)
    return tuple(shown), _parent_class(tuple(loc))


def _section_class(annotation: Any) -> type | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _parent_class(loc: tuple) -> type | None:
    """The section class that holds the last key of `loc` (for 'did you mean')."""
    cls: type | None = schema.Spec
    for part in loc[:-1]:
        if part in _TAGGED and part not in getattr(cls, "model_fields", {}):
            cls = _TAGGED[part]
            continue
        if isinstance(part, str) and part[:1].isupper() and hasattr(schema, part):
            cls = getattr(schema, part)
            continue
        fields = getattr(cls, "model_fields", {})
        cls = _section_class(fields[part].annotation) if part in fields else None
    return cls


def _describe(err: dict, loc: tuple, parent: type | None) -> str:
    kind, found = err["type"], err.get("input")
    key = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        options = list(getattr(parent, "model_fields", {}))
        return f"unknown key `{key}`{did_you_mean(key, options)}; expected one of: {', '.join(options)}"
    if kind == "missing":
        return f"`{key}` is required here and missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag_key, options = ("source", schema.DATA_SOURCES) if key == "data" else ("kind", schema.MODEL_KINDS)
        value = found.get(tag_key) if isinstance(found, dict) else None
        if not isinstance(found, dict):
            return f"expected a section of keys; found {shown(found)}{_section_hint(key, found)}"
        if value is None:
            return f"`{key}.{tag_key}` is missing; expected one of: {', '.join(options)}"
        return (f"`{key}.{tag_key}`: expected one of {', '.join(options)}; found {shown(value)}"
                f"{did_you_mean(value, options)}")
    if kind == "literal_error":
        expected = err["ctx"].get("expected", "")
        options = [o.strip(" '") for o in expected.replace(" or ", ", ").split(",")]
        return f"expected {expected}; found {shown(found)}{did_you_mean(found, options)}"
    if kind == "value_error":
        return str(err["ctx"]["error"])
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a section of keys (key: value); found {shown(found)}{_section_hint(key, found)}"
    message = err["msg"]
    return f"{message[0].lower()}{message[1:]}; found {shown(found)}"


def _section_hint(key, found) -> str:
    """What the user probably meant by a bare value where `data` or `model` wants its keys."""
    if key == "model" and isinstance(found, str) and found in schema.MODEL_KINDS:
        return f"; write `model: {{kind: {found}}}` (then its keys, e.g. layers, units)"
    if key == "data" and isinstance(found, str) and found.startswith(("sklearn:", "keras:")):
        return f'; write `data: {{source: "{found}"}}`'
    if key == "data" and isinstance(found, str):
        suffix = Path(found).suffix.lower()
        source = {".csv": "csv", ".npz": "npz", "": "images"}.get(suffix)
        if source is not None:
            target = ", target: COLUMN" if source == "csv" else ""
            return f"; write `data: {{source: {source}, path: {found}{target}}}`"
    return ""


def with_name(spec: schema.Spec, name: str) -> schema.Spec:
    """A copy of the spec under another run name (`--name`)."""
    new = spec.model_copy(deep=True)
    try:
        new.name = name
    except ValidationError as exc:
        raise SpecError(f"--name {shown(name)}: {exc.errors()[0]['ctx']['error']}") from None
    new._source = spec_source(spec)
    return new


def with_frame(spec: schema.Spec, frame) -> schema.Spec:
    """A copy of a CSV spec that records the DataFrame it reads (nnlab.run(spec, data=frame)): its shape
    and a hash of its contents, so the run folder says what it was trained on and resumes only on it."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise SpecError(f"data=: expected a pandas DataFrame (a CSV source's rows), not {type(frame).__name__}")
    if not isinstance(spec.data, schema.CsvData):
        return spec  # (load_data refuses a DataFrame for another source, with its reason)
    try:
        hashes = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    except TypeError:  # cells pandas cannot hash (lists, dicts): hash their text
        hashes = pd.util.hash_pandas_object(frame.astype(str), index=True).to_numpy()
    digest = hashlib.sha256(hashes.tobytes() + "\x00".join(map(str, frame.columns)).encode()).hexdigest()[:16]
    new = spec.model_copy(deep=True)
    new.data.frame = schema.FrameRecord(rows=len(frame), columns=frame.shape[1], sha256=digest)
    new._source = spec_source(spec)
    return new
