"""``python -m groupops`` runs the command line."""

from groupops.cli import main

main()
