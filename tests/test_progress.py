"""The live display of a sweep in a terminal: bars for the sweep and the current trial's epochs."""

from __future__ import annotations

import io

from rich.console import Console

from nnlab.progress import Reporter
from nnlab.runs.records import TrialRecord


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
    record = TrialRecord("0", "completed", score=0.7, seconds=1.0, hyperparameters={"units": 8})
    reporter.trial_ends(1, 2, record, "val_accuracy", record)
    assert reporter._bars.tasks[0].completed == 1 and "best 0.7" in reporter._bars.tasks[0].fields["info"]
    reporter.table([record], "val_accuracy", ["units"])  # closes the bars first
    assert reporter._bars is None
    text = out.getvalue()
    assert "trial 0 started" in text and "Top 1 trial by val_accuracy" in text


def test_no_bars_in_logs_or_when_quiet():
    assert not Reporter(console=Console(file=io.StringIO())).live  # not a terminal
    assert not Reporter(quiet=True, console=Console(file=io.StringIO(), force_terminal=True)).live
    reporter = Reporter(console=Console(file=io.StringIO()))
    reporter.start("demo", "data", "random", 0, 2, epochs=3, objective="val_loss")
    reporter.epoch_ends(0, {"val_loss": 1.0})  # nothing to update; no error
    reporter.close()


def test_resuming_a_search_that_is_already_complete_says_so():
    out = io.StringIO()
    reporter = Reporter(console=Console(file=out, width=200))
    reporter.start("demo", "data", "random", 6, 4)  # max_trials lowered from 10 to 4 after 6 trials
    text = out.getvalue()
    assert "the search is already complete: 6 trial(s) done, and it asks for 4" in text
    assert "--set search.max_trials=N" in text and "resuming" not in text
    out.truncate(0)
    reporter.start("demo", "data", "random", 2, 4)
    assert "resuming: 2 trial(s) already done of 4" in out.getvalue()


def test_brackets_in_notes_reasons_and_values_print_as_written():
    out = io.StringIO()
    reporter = Reporter(console=Console(file=out, width=200))
    reporter.note("column 'weight [kg]' holds numbers")
    reporter.warn("[worker2] a message with [/x] in it")  # rich would raise MarkupError on [/x]
    reporter.trial_begins(1, 2, "0", {"activation": "[relu]"}, worker="box[1]")
    failed = TrialRecord("0", "failed", reason="ValueError: bad [/shape] here", worker="box[1]")
    reporter.trial_ends(1, 2, failed, "val_loss", None)
    text = out.getvalue()
    for written in ("weight [kg]", "[worker2] a message with [/x] in it", "activation=[relu]", "on box[1]",
                    "bad [/shape] here", "(box[1])"):
        assert written in text, written


def test_the_run_header_shows_what_was_decided_about_the_data():
    out = io.StringIO()
    reporter = Reporter(console=Console(file=out, width=200))
    reporter.start("bikes", "csv bikes.csv: 80 training and 20 validation examples", "random, 2 trials", 0, 2,
                   notes=["column 'Date': read day first ('13/12/2017' seen)", "bikes.csv is not UTF-8"])
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("  data:") and "note:" in lines[2] and "read day first" in lines[2]
    assert "search:" in lines[4]


def test_a_time_budget_shows_the_time_left_after_each_trial():
    import time

    out = io.StringIO()
    reporter = Reporter(console=Console(file=out, width=200))
    reporter.start("demo", "data", "random, as many trials as fit in 10 minutes", 0, None,
                   deadline=time.monotonic() + 600)
    record = TrialRecord("0", "completed", score=0.7, seconds=1.0, hyperparameters={})
    reporter.trial_ends(1, None, record, "val_accuracy", record)
    assert "[1/?] trial 0" in out.getvalue() and "left of search.max_minutes" in out.getvalue()
    assert "9:59 left" in out.getvalue() or "10:00 left" in out.getvalue()
