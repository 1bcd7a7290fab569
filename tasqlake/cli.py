"""The ``tasqlake`` command: composes schemas, ingest and queries.

Each sub-command lives in its own module under :mod:`tasqlake.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``run=callable(args, settings) -> int``.
Errors that are :class:`~tasqlake.schemas.errors.TasqlakeError` end the program with one line on
stderr and the error's exit code; a wrong flag exits 2 with one line too.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from tasqlake import commands
from tasqlake.schemas.errors import TasqlakeError
from tasqlake.schemas.settings import Settings

PROG = "tasqlake"


class OneLineArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def command_name(module: str) -> str:
    """The command a module of :mod:`tasqlake.commands` defines: ``import_`` → ``import``,
    ``export_db`` → ``export-db``."""
    return module.rstrip("_").replace("_", "-")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's module is imported (the others get a bare
    placeholder), so e.g. the ingest service does not load DuckDB and polars it never uses."""
    parser = OneLineArgumentParser(
        prog=PROG,
        description="Event-sourced analytics store for AsyncTasQ: ingest, store, query.",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=OneLineArgumentParser
    )
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        if only is not None and command_name(module_info.name) != only:
            subparsers.add_parser(command_name(module_info.name))
            continue
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    for sub in subparsers.choices.values():
        sub.add_argument(
            "--config", metavar="FILE", help="TOML settings file (env TASQLAKE_CONFIG)"
        )
    return parser


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The one Settings object of this run: flags over environment over defaults."""
    fields = Settings.__dataclass_fields__
    flags: dict[str, Any] = {k: v for k, v in vars(args).items() if k in fields or k == "config"}
    return Settings.resolve(flags=flags, environ=environ)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    first = arguments[0] if arguments else None
    known = {command_name(m.name) for m in pkgutil.iter_modules(commands.__path__)}
    parser = build_parser(only=first if first in known else None)
    args = parser.parse_args(arguments)
    env = os.environ if environ is None else environ
    try:
        settings = settings_from_args(args, env)
        code = int(args.run(args, settings) or 0)
    except TasqlakeError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into a command that closed early (e.g. `| head`): not an error.
        sys.stderr.close()
        return 0
    return code


def run() -> NoReturn:
    sys.exit(main())
