"""``python -m tasqlake`` runs the command line."""

from tasqlake.cli import run

run()
