"""Private names of Keras Tuner, Keras and TensorFlow: each library's behind one module (its fence),
each fence's names checked against the installed library, and the versions bounded above."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nnlab"
# library: (its fence, what in another module's text would be a private use of it)
FENCES = {
    "keras_tuner": ("engine/kerastuner.py", r"keras_tuner\.src|_retry_queue|_try_run_and_update_trial"),
    "keras": ("engine/kerasprivate.py",
              r"keras\.src|\._symbolic_build|\._loss_tracker|\._get_variable_index|\._momentums|\._velocities"),
    "tensorflow": ("engine/tfprivate.py", r"tensorflow\.python|gradient_registry\._registry"),
}


@pytest.mark.parametrize("library", FENCES)
def test_no_private_name_outside_its_fence(library):
    fence, pattern = FENCES[library]
    found = []
    for path in PACKAGE.rglob("*.py"):
        if str(path.relative_to(PACKAGE)) == fence:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(pattern, line):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert not found, f"{library}'s private names outside {fence}:\n" + "\n".join(found)


def test_the_fenced_libraries_are_bounded_above():
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    pins = dict(re.findall(r'^\s*"([A-Za-z0-9_-]+)([^"]*)",', text, re.M))
    for library in ("keras-tuner", "keras", "tensorflow"):
        assert "<" in pins[library], f"{library} has no upper bound: {pins[library]}"


@pytest.mark.slow
def test_keras_and_tensorflow_have_every_fenced_name():
    from nnlab.engine import kerasprivate, tfprivate

    assert kerasprivate.missing() == []
    assert tfprivate.missing() == []
