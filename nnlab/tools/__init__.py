"""The commands that work on a spec or a finished run: `apply` (predict, evaluate, export), `plots`,
`report`, `retrain`, `starter` (init) and `validate`."""
