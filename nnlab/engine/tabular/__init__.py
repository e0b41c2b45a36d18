"""The tabular recipe's layers at the front of a table's MLP (a room of `engine`).

- `features`: the prepared row split into its parts by frozen selections, each part as the spec says
  (numeric features, categorical embeddings, the rest as prepared), and put back together;
- `numeric`: the numeric features scaled and embedded (model.scaling, model.embedding);
- `members`: model.members, TabM-mini's K views of each row and their mean (a *member* is one of them);
- `rawinputs`: `export --raw-inputs`, the CSV's own columns in, the preprocessing as stock Keras layers.
"""
