"""Run folders and what they hold. No TensorFlow.

- `files`: the plain files' names, atomic writes, a full disk; `fmt`: how values read in every table;
- `records`: `TrialRecord` (a row of trials.csv) and `Summary` (summary.json), ranking, the best epoch;
- `trialprogress`: `TrialProgress`, a trial's nnlab_trial.json;
- `folder`: `RunFolder` (where each file of a run lives, and the one reader of them) and
  `FolderContents` (what a read found, with what is damaged);
- `log`: `RunLog`, a live run's records, rewriting trials.csv and summary.json;
- `opening`: whether a spec may run in a folder, and a new folder made whole or not at all;
- `lock`: one process per run folder; `imagecache`: decoded images kept under runs/.decoded/;
- `compare`: run folders side by side, as rows and as text; `outputs`: where a command may write its output.

The other "run" types are the layers' above: `engine.sweep.SweepResult` (what a sweep returns),
`tools.apply.RunToApply` (a finished run opened to predict, evaluate or export) and `tools.notebook.Run`
(a run folder from Python: `nnlab.open`).
"""
