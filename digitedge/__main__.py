"""`python -m digitedge`: the same command as the `digitedge` script."""

from digitedge.cli import main

main()
