"""``tasqlake config``: the effective settings and where each value came from."""

from __future__ import annotations

import argparse
import dataclasses

import pyarrow as pa

from tasqlake.commands import _options
from tasqlake.output import write_result
from tasqlake.schemas.settings import Settings, mask_url


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "config",
        help="print the effective settings and their sources",
        description="Print every setting, its value (secrets masked) and where it came from: "
        "flag, env:NAME, file:PATH or default.",
    )
    _options.add_lake(parser)
    _options.add_redis(parser, many_channels=True)
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(run=run)


def effective(settings: Settings) -> pa.Table:
    names, values, sources = [], [], []
    for field in dataclasses.fields(settings):
        if field.name == "sources" or not field.repr:  # aws_environment: never shown
            continue
        value = getattr(settings, field.name)
        if field.name == "redis_url":
            value = mask_url(value)
        elif isinstance(value, tuple):
            value = ",".join(value)
        names.append(field.name)
        values.append(None if value is None else str(value))
        sources.append(settings.sources.get(field.name, "default"))
    return pa.table({"setting": names, "value": values, "source": sources})


def run(args: argparse.Namespace, settings: Settings) -> int:
    write_result(effective(settings), args.format, title="tasqlake settings")
    return 0
