"""What a sweep shows while it runs: a header, one line per trial, the top trials at the end.

`Reporter` prints with rich; `quiet=True` keeps only warnings. In a terminal it also keeps live bars
under the trial lines: one for the sweep (trials done, best so far, elapsed) and one for the current
trial's epochs (with the objective's latest value). Logs and pipes get the plain lines only. The
sweep calls it; it never calls back into the sweep.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nnlab.errors import plural
from nnlab.runs.fmt import fmt_duration, fmt_value


class Reporter:
    def __init__(self, quiet: bool = False, console: Console | None = None, live: bool | None = None):
        self.quiet = quiet
        self.console = console or Console(highlight=False, soft_wrap=True)
        if not self.console.is_terminal:
            self.console.width = max(self.console.width, 160)  # logs: do not wrap at 80 columns
        in_notebook = self.console.is_jupyter and ipython_display() is not None
        self.live = ((self.console.is_terminal or in_notebook) and not quiet) if live is None else live
        self.in_notebook = in_notebook
        self.started = time.monotonic()
        self.finished_here = 0
        self.epochs: int | None = None
        self.objective: str | None = None
        self.deadline: float | None = None  # (time.monotonic) when no new trial starts: search.max_minutes
        self._bars = None
        self._sweep_bar = self._trial_bar = None

    # ---- live bars (a terminal only)

    def _open_bars(self, done: int, total: int | None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        if self.in_notebook:  # one display, redrawn in place (rich's own needs ipywidgets)
            self._bars = NotebookBars()
            self._sweep_bar = self._bars.add_task("sweep", total=total, completed=done, info="")
            self._trial_bar = self._bars.add_task("trial", total=self.epochs, visible=False, info="")
            self._bars.start()
            return
        self._bars = Progress(TextColumn("{task.description:<14}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                              TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=self.console,
                              transient=True)
        self._sweep_bar = self._bars.add_task("sweep", total=total, completed=done, info="")
        self._trial_bar = self._bars.add_task("trial", total=self.epochs, visible=False, info="")
        self._bars.start()

    def epoch_ends(self, epoch: int, logs: dict | None) -> None:
        """After each epoch of the current trial (a Keras callback calls this)."""
        if self._bars is None:
            return
        value = (logs or {}).get(self.objective) if self.objective else None
        info = f"{self.objective} {fmt_value(float(value))}" if value is not None else ""
        self._bars.update(self._trial_bar, completed=epoch + 1, info=info)

    def close(self) -> None:
        """End the live bars (before the final table, or when the sweep stops)."""
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def say(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text)

    # Notes, warnings and errors are plain text: brackets in them ("[worker2]", a file name) are not
    # rich markup, which would swallow them.
    def note(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[dim]note:[/dim] {escape(text)}")

    def warn(self, text: str) -> None:
        self.console.print(f"[yellow]warning:[/yellow] {escape(text)}")

    def error(self, text: str) -> None:
        self.console.print(f"[red]error:[/red] {escape(text)}")

    def start(self, name: str, data_summary: str, search: str, done: int, total: int | None,
              epochs: int | None = None, objective: str | None = None, notes: list[str] = (),
              deadline: float | None = None) -> None:
        """The run's header: its data (with what nnlab decided about it), its search, where it stands.
        `deadline` (time.monotonic): when no new trial starts; each trial's line then shows the time left."""
        self.started = time.monotonic()
        self.epochs, self.objective, self.deadline = epochs, objective, deadline
        self.say(f"[bold]nnlab run {name}[/bold]")
        self.say(f"  data:   {escape(data_summary)}")
        for note in notes:
            self.say(f"  [dim]note:[/dim]   {escape(note)}")
        self.say(f"  search: {search}")
        if total and done >= total:
            self.say(f"  the search is already complete: {done} trial(s) done, and it asks for {total}; nothing "
                     "to train. Raise search.max_trials (--set search.max_trials=N) to search further")
        elif done:
            self.say(f"  resuming: {done} trial(s) already done{f' of {total}' if total else ''}")
        if self.live:
            self._open_bars(done, total)

    def trial_begins(self, number: int, total: int | None, trial_id: str, params: dict,
                     worker: str | None = None) -> None:
        if self.quiet:
            return
        shown = escape(" ".join(f"{k}={fmt_value(v)}" for k, v in params.items()))
        where = f" on {escape(worker)}" if worker else ""
        self.console.print(f"[dim]\\[{number}/{total or '?'}] trial {trial_id} started{where}: {shown}[/dim]")
        if self._bars is not None and not worker:  # (parallel trials: the sweep bar only)
            self._bars.update(self._trial_bar, description=f"trial {trial_id}", completed=0, total=self.epochs,
                              visible=True, info="")

    def pack_begins(self, trials: int) -> None:
        """Several trials train together (search.pack): the trial bar follows their pack's epochs."""
        if self._bars is not None and trials > 1:
            self._bars.update(self._trial_bar, description=f"pack of {trials}", completed=0, total=self.epochs,
                              visible=True, info="")

    def trial_ends(self, number: int, total: int | None, record: dict, objective: str,
                   best: dict | None) -> None:
        self.finished_here += 1
        if self.quiet:
            return
        elapsed = time.monotonic() - self.started
        if record.status == "completed":
            spread = record.metrics.get(f"{objective}_std")
            spread = f" ± {fmt_value(spread)} over folds" if spread is not None else ""
            result = f"[green]{objective} {fmt_value(record.score)}{spread}[/green]"
        elif record.status == "pruned":
            result = (f"[yellow]pruned[/yellow] after {record.epochs or '?'} epoch(s), below the median: "
                      f"{objective} {fmt_value(record.score)}")
        else:
            result = f"[red]failed[/red]: {escape(record.reason or 'unknown reason')}"
        worker = f" ({escape(record.worker)})" if record.worker else ""
        best_text = f"best {fmt_value(best.score)} (trial {best.trial_id})" if best else "best -"
        eta = ""
        if total and number < total:
            per_trial = elapsed / self.finished_here
            eta = f", ETA {fmt_duration(per_trial * (total - number))}"
        if self.deadline is not None:
            eta += f", {fmt_duration(max(self.deadline - time.monotonic(), 0))} left of search.max_minutes"
        self.console.print(
            f"\\[{number}/{total or '?'}] trial {record.trial_id}{worker} {result}  {best_text}  "
            f"({fmt_duration(record.seconds)}; {fmt_duration(elapsed)} elapsed{eta})"
        )
        if self._bars is not None:
            self._bars.update(self._sweep_bar, advance=1, info=best_text + eta)
            self._bars.update(self._trial_bar, visible=False)

    def table(self, records: list[dict], objective: str, hp_names: list[str], top: int = 5) -> None:
        self.close()
        if self.quiet or not records:
            return
        table = Table(title=f"Top {plural(min(top, len(records)), 'trial')} by {objective}")
        for col in ("trial", objective, *hp_names, "epochs", "time"):
            table.add_column(col, justify="right" if col != "trial" else "left")
        for rec in records[:top]:
            table.add_row(
                str(rec.trial_id), fmt_value(rec.score),
                *(escape(fmt_value(rec.hyperparameters.get(n, ""))) for n in hp_names),
                fmt_value(rec.epochs or ""), fmt_duration(rec.seconds),
            )
        self.console.print(table)


def ipython_display():
    """IPython's `display`, when this runs inside a Jupyter kernel; else None."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    return display if get_ipython() is not None else None


class NotebookBars:
    """The live bars in a notebook: one output, updated in place (at most 5 times a second), with a
    text bar per visible task. The same calls as rich's `Progress` that `Reporter` makes."""

    WIDTH = 30

    def __init__(self):
        self.tasks: list[dict] = []
        self.handle = None
        self.drawn = 0.0

    def add_task(self, description: str, total: int | None = None, completed: int = 0, visible: bool = True,
                 info: str = "") -> int:
        self.tasks.append({"description": description, "total": total, "completed": completed, "visible": visible,
                           "info": info, "started": time.monotonic()})
        return len(self.tasks) - 1

    def update(self, task: int, advance: int = 0, **fields) -> None:
        if "completed" in fields and fields["completed"] == 0:
            self.tasks[task]["started"] = time.monotonic()
        self.tasks[task].update(fields)
        self.tasks[task]["completed"] += advance
        self._draw(force=advance > 0 or "visible" in fields)

    def start(self) -> None:
        from IPython.display import HTML, display

        self.handle = display(HTML(self.render()), display_id=True)
        self.drawn = time.monotonic()

    def stop(self) -> None:
        self._draw(force=True)

    def _draw(self, force: bool) -> None:
        if self.handle is None or (not force and time.monotonic() - self.drawn < 0.2):
            return
        from IPython.display import HTML

        self.handle.update(HTML(self.render()))
        self.drawn = time.monotonic()

    def render(self) -> str:
        from html import escape as html_escape

        lines = []
        for task in self.tasks:
            if not task["visible"]:
                continue
            total, done = task["total"], task["completed"]
            filled = int(self.WIDTH * min(done / total, 1)) if total else 0
            bar = "█" * filled + "░" * (self.WIDTH - filled)
            count = f"{done}/{total}" if total else f"{done}"
            lines.append(f"{task['description']:<14} {bar} {count:>7} "
                         f"{fmt_duration(time.monotonic() - task['started'])}  {task['info']}")
        return f"<pre style='margin:0'>{html_escape(chr(10).join(lines))}</pre>"
