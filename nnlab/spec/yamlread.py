"""Reading YAML for a spec: a file's text or a `--set` value → its data and the line of each key, with
PyYAML's safe loader only (a spec never constructs Python objects), within the limits of `spec.limits`
(the file's size, the values its aliases expand to, how deep it nests), and every problem a `SpecError`
that says where. `spec.loader` validates what this reads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from nnlab.errors import SpecError
from nnlab.spec.limits import SPEC_BYTES, SPEC_DEPTH, SPEC_VALUES, how_to_raise, limit


class SpecYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with YAML 1.2's numbers: `1e-3` is a number, as a person means it (YAML 1.1,
    PyYAML's, wants `1.0e-3` and reads `1e-3` as text); and a document nested deeper than SPEC_DEPTH is
    refused as it is composed (PyYAML's composer recurses once per level: at a thousand it would fail
    slowly with a RecursionError)."""

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > SPEC_DEPTH:
                raise TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class TooDeep(Exception):
    def __init__(self, mark):
        super().__init__(mark)
        self.mark = mark


SpecYamlLoader.add_implicit_resolver(  # (copies the safe loader's resolvers before adding: SafeLoader is unchanged)
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def read_spec_file(path: Path) -> str:
    """The spec file's text; refused when it is not a regular file or larger than the limit (read no
    further than the limit: a device or a pipe never ends)."""
    if not path.exists():
        raise SpecError(f"Spec file not found: {path}")
    if not path.is_file():
        raise SpecError(f"{path} is not a regular file; give the path of a spec file (.yaml)")
    most = int(limit(SPEC_BYTES))
    try:
        with path.open("rb") as handle:
            data = handle.read(most + 1)
    except OSError as exc:
        raise SpecError(f"Cannot read spec file {path}: {exc.strerror or exc}") from None
    if len(data) > most:
        raise SpecError(f"Spec file {path} is larger than {most:,} bytes ({path.stat().st_size:,}); a spec is a few "
                        f"kilobytes: is it the right file? ({how_to_raise(SPEC_BYTES)})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"Cannot read spec file {path}: it is not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from None


def parse_yaml(text: str, path: Path) -> tuple[Any, dict[tuple, int]]:
    node, raw = yaml_document(text, f"Spec error in {path}", "the file")
    lines: dict[tuple, int] = {}
    if node is not None:
        _walk(node, (), lines, path)
    return raw, lines


def yaml_document(text: str, where: str, what: str) -> tuple[yaml.Node | None, Any]:
    """The YAML text's node tree and its Python value, read with the safe loader, within the limits on
    its size once aliases are expanded and its depth. `where` starts each error ("Spec error in
    spec.yaml", "--set 'x=…'"); `what` names the text in it ("the file", "the value")."""
    sep = ":\n  " if what == "the file" else ": "  # (a --set value's error is one line)
    loader = None
    try:
        loader = SpecYamlLoader(text)  # (its reader refuses control characters at once)
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node, where, sep)
        return node, loader.construct_document(node) if node is not None else None
    except yaml.constructor.ConstructorError as exc:
        line = f", line {exc.problem_mark.line + 1}" if exc.problem_mark and what == "the file" else ""
        tag = next(iter(re.findall(r"'(tag:[^']*)'", str(exc.problem))), "")
        tag = f" ({tag.replace('tag:yaml.org,2002:', '!!')})" if tag else ""
        raise SpecError(f"{where}{line}: YAML tags that construct Python objects are not allowed in a spec{tag}; "
                        "write plain values") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f", line {mark.line + 1}, column {mark.column + 1}" if mark and what == "the file" else ""
        problem = exc.problem or str(exc).splitlines()[0]
        hint = ""
        if "\t" in problem or "'\\t'" in problem:  # PyYAML writes the tab as the two characters \t
            hint = "; YAML does not allow tabs for indentation: indent with spaces"
        raise SpecError(f"{where}{at}{sep}{what} is not valid YAML: {problem}{hint}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}{sep}{what} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except TooDeep as exc:
        raise _too_deep(where, f", line {exc.mark.line + 1}" if what == "the file" else "", sep) from None
    except RecursionError:  # (a safety net: composing refuses depth first)
        raise _too_deep(where, "", sep) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_expansion(root: yaml.Node, where: str, sep: str) -> None:
    """Refuse a document that holds more values than the limit once its aliases are expanded (a
    "billion laughs" of a kilobyte), that refers to itself, or that nests deeper than the limit. Each
    node is visited once: an alias shares its anchor's node, whose size is remembered."""
    most, sizes, depth_of = int(limit(SPEC_VALUES)), {}, {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    open_nodes: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > most:
                raise SpecError(f"{where}{sep}the spec holds more than {most:,} values once its YAML aliases (*name) "
                                f"are expanded; a spec holds a few hundred ({how_to_raise(SPEC_VALUES)})")
            continue
        if key in open_nodes:
            raise SpecError(f"{where}{_line(node, sep)}{sep}a YAML alias refers to a section that "
                            "holds it (the spec would never end); write the values out")
        if depth > SPEC_DEPTH:  # (through aliases: composing the file refused deeper nesting already)
            raise _too_deep(where, _line(node, sep), sep)
        if key in sizes and depth_of[key] >= depth:
            continue
        depth_of[key] = depth
        open_nodes.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children)


def _too_deep(where: str, line: str, sep: str) -> SpecError:
    return SpecError(f"{where}{line}{sep}sections and lists nest more than {SPEC_DEPTH} deep; a spec needs a "
                     "handful of levels")


def _line(node: yaml.Node, sep: str) -> str:
    return f", line {node.start_mark.line + 1}" if sep != ": " else ""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _walk(node: yaml.Node, loc: tuple, lines: dict, path: Path) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise SpecError(
                    f"Spec error in {path}, line {key_node.start_mark.line + 1}, at "
                    f"{'.'.join(map(str, (*loc, key)))}:\n  the key `{key}` appears twice; keep one"
                )
            seen.add(key)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*loc, i), lines, path)
