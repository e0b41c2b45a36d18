"""`python -m nnlab` is the `nnlab` command."""

from .cli import main

main()
