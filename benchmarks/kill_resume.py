"""Kill-and-resume at scale: a sweep killed with SIGKILL many times, at random moments and at random
named points, resumed after each kill; every promise checked after each resume and at the end.

    python benchmarks/kill_resume.py [--kills 20] [--trials 8] [--epochs 3] [--seed 0]

Prints one line per kill and a last line: how many kill points the sweep survived.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlab.faults import POINTS  # noqa: E402
from tests.killharness import Harness  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    survived = kills = 0
    with tempfile.TemporaryDirectory() as folder:
        harness = Harness(Path(folder), trials=args.trials, epochs=args.epochs)
        killed_last = False
        for i in range(args.kills * 3):  # kills that land after the sweep ended do not count
            if kills == args.kills or len(harness.done) == args.trials:
                break
            if rng.random() < 0.5:
                how, kwargs = "at a random moment", {"kill_after": rng.uniform(2.0, 12.0)}
            else:
                point = rng.choice(POINTS)
                count = 1 if point == "startup" else rng.randint(1, 4)  # start-up is passed once a process
                how, kwargs = f"at {point}", {"kill_at": f"{point}:{count}"}
            try:
                code, output = harness.run(**kwargs)
                resumed = code in (0, -9)
            except AssertionError as exc:
                code, resumed, output = None, False, str(exc)
            if killed_last:  # this process resumed after the previous kill
                survived += resumed
            if not resumed:
                print(f"  FAILED to resume: {output[-600:]}")
            killed_last = code == -9
            kills += killed_last
            state = "killed" if killed_last else f"exited {code}"
            print(f"process {i + 1:2d}: kill {how:<24} {state:<10} completed so far: {len(harness.done)}/{args.trials}",
                  flush=True)
        try:
            harness.finish()
            survived += killed_last
            final = "the sweep finished with every promise kept"
        except AssertionError as exc:
            final = f"FINAL CHECK FAILED: {str(exc)[:600]}"
    print(final)
    print(f"survived {survived} of {kills} kills ({harness.processes} processes started)")


if __name__ == "__main__":
    main()
