"""Sub-commands of ``tasqlake``: one module each, found by ``tasqlake.cli.build_parser``."""
