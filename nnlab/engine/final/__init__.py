"""What happens once the search has ended (a room of `engine`).

- `confirm`: search.confirm, the top K configurations cross-validated before one becomes best.keras;
- `bestmodel`: best.keras itself (`FinalModel`): the best trial, refitted on every training row, or the
  average of the top K (search.ensemble);
- `expected`: the expected score on new rows: best.keras on data.test_split's unseen rows, or the
  confirmed fold mean, or none and why.
"""
