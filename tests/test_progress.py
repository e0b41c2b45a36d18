"""The live display of a sweep in a terminal: bars for the sweep and the current trial's epochs."""

from __future__ import annotations

import io

from rich.console import Console

from nnlab.progress import Reporter


def test_live_bars_follow_trials_and_epochs_and_close():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, highlight=False)
    reporter = Reporter(console=console)
    assert reporter.live  # a terminal
    reporter.start("demo", "data", "random, 2 trials", 0, 2, epochs=3, objective="val_accuracy")
    reporter.trial_begins(1, 2, "0", {"units": 8})
    for epoch in range(3):
        reporter.epoch_ends(epoch, {"val_accuracy": 0.5 + epoch / 10})
    assert reporter._bars.tasks[1].completed == 3 and "val_accuracy 0.7" in reporter._bars.tasks[1].fields["info"]
    record = {"trial_id": "0", "status": "completed", "score": 0.7, "seconds": 1.0, "hyperparameters": {"units": 8}}
    reporter.trial_ends(1, 2, record, "val_accuracy", record)
    assert reporter._bars.tasks[0].completed == 1 and "best 0.7" in reporter._bars.tasks[0].fields["info"]
    reporter.table([record], "val_accuracy", ["units"])  # closes the bars first
    assert reporter._bars is None
    text = out.getvalue()
    assert "trial 0 started" in text and "Top 1 trials by val_accuracy" in text


def test_no_bars_in_logs_or_when_quiet():
    assert not Reporter(console=Console(file=io.StringIO())).live  # not a terminal
    assert not Reporter(quiet=True, console=Console(file=io.StringIO(), force_terminal=True)).live
    reporter = Reporter(console=Console(file=io.StringIO()))
    reporter.start("demo", "data", "random", 0, 2, epochs=3, objective="val_loss")
    reporter.epoch_ends(0, {"val_loss": 1.0})  # nothing to update; no error
    reporter.close()
