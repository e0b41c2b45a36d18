"""What the user wrote: the spec's schema (`schema`), reading it from YAML with located errors
(`loader`), its search spaces (`space`) and the metrics and objectives it may name (`objectives`).
No TensorFlow, no data."""
