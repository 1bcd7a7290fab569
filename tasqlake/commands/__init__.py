"""Sub-commands of ``tasqlake``: one module each, discovered by :func:`tasqlake.cli.build_parser`."""
