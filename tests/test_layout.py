"""The package's floors: data flows down, and the parts that never need TensorFlow never import it.

cli → tools, distributed → engine → runs → data → spec → errors (and a few bottom modules every floor
may use). A module imports only from its own floor or those below, not even inside a function.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "nnlab"
BOTTOM = {"errors", "faults", "quiet", "readback", "scores", "threads", "version"}
FLOORS = {  # what each part may import from nnlab, besides BOTTOM and itself
    "spec": set(),
    "data": {"spec"},
    "runs": {"data", "spec"},
    "progress": {"runs"},
    "baseline": set(),  # gradient boosting (scikit-learn): below the TensorFlow line, beside the data
    "engine": {"runs", "data", "spec", "progress", "baseline"},
    "distributed": {"engine", "runs", "data", "spec", "progress"},
    "tools": {"engine", "runs", "data", "spec", "progress", "baseline"},
    "cli": {"tools", "distributed", "engine", "runs", "data", "spec", "progress", "api", "baseline"},
    "api": {"tools", "engine", "runs", "data", "spec"},
    "__main__": {"cli"},
    "reference": {"cli", "api", "tools", "spec"},  # the site's reference pages, generated from the CLI and the schema
}


def part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def nnlab_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "nnlab":
            names = node.module.split(".")[1:2] or [a.name for a in node.names]
            found.update(names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("nnlab."))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_every_module_imports_only_from_its_floor_or_below(path):
    relative = path.relative_to(PACKAGE)
    own = relative.parts[0].removesuffix(".py")
    if own in BOTTOM:
        allowed = set()
    else:
        assert own in FLOORS, f"{relative}: which floor is it on? add it to FLOORS"
        allowed = FLOORS[own]
    wrong = nnlab_imports(path) - allowed - BOTTOM - {own}
    assert not wrong, f"{relative} imports {sorted(wrong)}, above its floor"


def test_the_parts_that_never_train_never_import_tensorflow(tmp_path):
    code = ("import sys, nnlab, nnlab.cli, nnlab.spec.loader, nnlab.spec.space, nnlab.runs.compare, nnlab.runs.folder, "
            "nnlab.runs.log, nnlab.data.load, nnlab.data.tabular, nnlab.data.csvdata, nnlab.data.images, "
            "nnlab.data.arrays, nnlab.tools.starter, nnlab.tools.plots, nnlab.scores, nnlab.progress\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------ inside a package


def module_name(path: Path) -> str:
    return ".".join(("nnlab", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")


def sibling_imports(path: Path, known: set[str]) -> set[str]:
    """The modules of its own package that a module imports (inside functions too)."""
    package = module_name(path).rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nnlab"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if n in known and n.rsplit(".", 1)[0] == package)
    return found - {module_name(path)}


def test_no_import_cycle_inside_a_package():
    """Within each package too, imports point one way: no module reaches itself through its siblings."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: sibling_imports(path, set(paths)) for name, path in paths.items()}
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" → ".join(trail + [start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
    assert not cycles, "import cycles: " + "; ".join(sorted(cycles))


SIZE_EXEMPT = {"cli.py"}  # the commands' option lists


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_modules_and_functions_read_on_a_few_screens(path):
    if path.name in SIZE_EXEMPT and path.parent == PACKAGE:
        return
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 400, f"{path.name}: {len(text.splitlines())} lines (at most 400)"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60]
    assert not long, f"{path.name}: functions over 60 lines: {', '.join(long)}"
    large = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(text))
             if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno >= 200]
    assert not large, f"{path.name}: classes over 200 lines: {', '.join(large)}"
