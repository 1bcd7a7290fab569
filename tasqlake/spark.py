"""``register(spark, lake)``: the tasqlake catalogue in a SparkSession, over the lake's files.

The views are the DuckDB catalogue's, turned into Spark SQL by
:mod:`tasqlake.queries.spark_sql`; this module gives them the lake:

* ONE listing of the lake (through the storage layer) decides the files every view reads, so a
  registered catalogue is a consistent picture of the lake at that moment: call ``register``
  again (or :meth:`SparkCatalogue.refresh`) to see files committed since. (DuckDB's views list
  the lake at each query instead.)
* each directory the views read (``events/``, ``gaps/``, ``task_snapshots/``, ``chain/<part>/``)
  becomes a temporary view ``tasqlake_files_<part>`` of its Parquet files, with the columns and
  types DuckDB's typed empty branch gives them (older files' missing columns are NULL), the
  Hive columns ``date`` and ``hour``, and ``filename``; the names the chain checks come as
  ``tasqlake_listing_<part>``;
* the session variable ``as_of`` (``SET VAR as_of = TIMESTAMP '…'``: UTC, as the session time
  zone, which ``register`` sets to UTC) is the instant every view answers for, as in DuckDB.

pyspark is not a dependency of tasqlake: install it (``pip install 'tasqlake[spark]'``) where
Spark runs. An ``s3://`` lake is read as ``s3a://`` (hadoop-aws and its settings are the
cluster's: see the README, "From one box to a cluster").
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tasqlake.lake.storage import Lake
from tasqlake.queries.connection import AsOf, as_lake, lake_variables, normalise_as_of
from tasqlake.queries.spark_sql import (
    AS_OF_VARIABLE,
    LISTING_PREFIX,
    FilesRelation,
    SparkStatement,
    relation_of,
    spark_catalogue,
)
from tasqlake.schemas.errors import QueryError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Spark settings the catalogue needs: UTC (DuckDB's views are UTC whatever the session zone;
#: Spark's timestamps follow the session zone).
SESSION_CONF = {"spark.sql.session.timeZone": "UTC"}
_FILE_SCHEME = re.compile(r"^file:(?://(?=/))?")


def _glob_pattern(glob: str) -> re.Pattern[str]:
    """A lake glob (``…/events/*/*/*.parquet``) as a regular expression over file URIs."""
    parts = (re.escape(p) for p in glob.split("*"))
    return re.compile("^" + "[^/]*".join(parts) + "$")


def _base(glob: str) -> str:
    """The directory a glob's Hive partitions start under."""
    return glob.split("*", 1)[0].rstrip("/")


def _spark_uri(uri: str) -> str:
    """How Spark (Hadoop) names a lake URI: s3:// is read through s3a://."""
    return "s3a://" + uri.removeprefix("s3://") if uri.startswith("s3://") else uri


@dataclass
class SparkCatalogue:
    """The catalogue registered in a SparkSession over one lake (see :func:`register`)."""

    spark: SparkSession
    lake: Lake
    statements: tuple[SparkStatement, ...]
    files: dict[str, list[str]] = field(default_factory=dict)  # glob variable -> file URIs

    @property
    def views(self) -> list[str]:
        """The contract's views, in creation order."""
        return [s.name for s in self.statements if s.kind == "view" and s.contract]

    def set_as_of(self, as_of: AsOf) -> None:
        """Make every view answer as of ``as_of`` (None: now), i.e. ``SET VAR as_of = …``."""
        moment = normalise_as_of(as_of)
        value = "NULL" if moment is None else f"TIMESTAMP '{_timestamp_text(moment)}'"
        self.spark.sql(f"SET VAR {AS_OF_VARIABLE} = {value}")

    def table(self, name: str, **arguments: object) -> DataFrame:
        """A table macro of the contract (``queue_depth_series``, ``throughput_series``) with
        its arguments by name: ``width`` a ``timedelta``, ``since``/``until`` datetimes."""
        statement = next(
            (s for s in self.statements if s.kind == "table_macro" and s.name == name), None
        )
        if statement is None:
            known = ", ".join(s.name for s in self.statements if s.kind == "table_macro")
            raise QueryError(f"no table macro {name!r} (known: {known})")
        names = [p for p, _ in statement.parameters]
        unknown = set(arguments) - set(names)
        if unknown:
            raise QueryError(f"{name} has no parameter {', '.join(sorted(unknown))}: {names}")
        args: dict[str, Any] = {}
        for parameter, default in statement.parameters:
            value = arguments.get(parameter)
            if value is None and default is None and parameter not in arguments:
                raise QueryError(f"{name} needs {parameter}")
            if value is None or isinstance(value, timedelta):
                args[parameter] = value
            elif isinstance(value, datetime | str):
                moment = normalise_as_of(value)  # the macro casts it: UTC text, zone UTC
                args[parameter] = None if moment is None else _timestamp_text(moment)
            else:
                raise QueryError(f"{name}: {parameter} must be a timedelta or a datetime")
        return self.spark.sql(statement.sql, args=args)

    def refresh(self) -> SparkCatalogue:
        """List the lake again and redefine the file relations (views follow them)."""
        _define_files(self)
        return self


def _timestamp_text(moment: datetime) -> str:
    """An aware UTC instant as a Spark TIMESTAMP literal's text (the session zone is UTC)."""
    return moment.replace(tzinfo=None).isoformat(sep=" ")


def _listing(lake: Lake) -> list[str]:
    """Every committed Parquet file of the lake, as URIs (one listing)."""
    return [lake.uri(relpath) for relpath in lake.list_files("")]


def _files_frame(
    spark: SparkSession, relation: FilesRelation, uris: list[str], glob: str
) -> DataFrame:
    from pyspark.sql import functions

    schema = ", ".join(f"`{name}` {kind}" for name, kind in relation.columns)
    if not uris:
        return spark.createDataFrame([], schema)
    frame = (
        spark.read.option("basePath", _spark_uri(_base(glob)))
        .option("mergeSchema", "true")
        .parquet(*(_spark_uri(u) for u in uris))
    )
    present = set(frame.columns)
    path = functions.regexp_replace(functions.col("_metadata.file_path"), _FILE_SCHEME.pattern, "")
    if glob.startswith("s3://"):
        path = functions.regexp_replace(path, "^s3a://", "s3://")
    columns = []
    for name, kind in relation.columns:
        if name == "filename":
            value = path
        elif name in present:
            value = functions.col(f"`{name}`")
        else:
            value = functions.lit(None)
        columns.append(value.cast(kind).alias(name))
    return frame.select(*columns)


def _define_files(catalogue: SparkCatalogue) -> None:
    spark = catalogue.spark
    globs = lake_variables(catalogue.lake)
    listing = _listing(catalogue.lake)
    patterns = {variable: _glob_pattern(glob) for variable, glob in globs.items()}
    catalogue.files = {
        variable: [uri for uri in listing if pattern.match(uri)]
        for variable, pattern in patterns.items()
    }
    defined: dict[str, FilesRelation] = {}
    for statement in catalogue.statements:
        for relation in statement.files:
            earlier = defined.get(relation.relation)
            if earlier is not None:
                if earlier.columns != relation.columns:
                    raise QueryError(
                        f"{statement.location}: reads {relation.relation} with other columns "
                        "than an earlier statement"
                    )
                continue
            defined[relation.relation] = relation
            frame = _files_frame(
                spark, relation, catalogue.files[relation.variable], globs[relation.variable]
            )
            frame.createOrReplaceTempView(relation.relation)
        for variable in statement.listings:
            name = relation_of(variable, LISTING_PREFIX)
            rows = [(uri,) for uri in catalogue.files[variable]]
            spark.createDataFrame(rows, "file STRING").createOrReplaceTempView(name)


def register(
    spark: SparkSession,
    lake: Lake | str | os.PathLike[str],
    as_of: AsOf = None,
    *,
    views: Iterable[str] | None = None,
) -> SparkCatalogue:
    """Define every view of the catalogue (the contract and its helpers) in ``spark`` over the
    Parquet files of ``lake``, answering as of ``as_of`` (None: now; change it later with
    :meth:`SparkCatalogue.set_as_of` or ``SET VAR as_of = TIMESTAMP '…'``).

    Also defines the contract's scalar macros as temporary functions (``error_class``,
    ``covered``, …); its table macros are :meth:`SparkCatalogue.table`. ``views`` limits the
    statements run to those named and what they need (default: all).
    """
    target = as_lake(lake).require_readable()
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    statements = spark_catalogue()
    if views is not None:
        statements = _needed(statements, set(views))
    catalogue = SparkCatalogue(spark, target, statements)
    spark.sql(f"DECLARE OR REPLACE VARIABLE {AS_OF_VARIABLE} TIMESTAMP DEFAULT NULL")
    catalogue.set_as_of(as_of)
    try:
        _define_files(catalogue)
    except Exception as error:  # Py4J / AnalysisException from Spark's file sources
        hint = (
            " (an s3:// lake is read as s3a://: the cluster needs hadoop-aws and its fs.s3a.* "
            "settings, see the README's 'From one box to a cluster')"
            if not target.is_local
            else ""
        )
        raise QueryError(
            f"Spark cannot read the lake at {target.describe()}: {_first_line(error)}{hint}"
        ) from None
    for statement in statements:
        if statement.kind == "table_macro":
            continue
        try:
            spark.sql(statement.sql)
            if statement.listing_only:
                _materialise(spark, statement.name)
        except Exception as error:  # pyspark's AnalysisException and friends
            raise QueryError(
                f"{statement.location}: Spark cannot create {statement.kind} "
                f"{statement.name}: {_first_line(error)}"
            ) from None
    return catalogue


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)


def _materialise(spark: SparkSession, view: str) -> None:
    """Replace ``view`` by its rows: a view of the listing alone (``chain_links``: the chain's
    validity, decided from file names) is the same for every query of this registration, and
    Spark would otherwise plan it again at every one of its many references."""
    frame = spark.table(view)
    spark.createDataFrame(frame.collect(), frame.schema).createOrReplaceTempView(view)


def _needed(statements: tuple[SparkStatement, ...], names: set[str]) -> tuple[SparkStatement, ...]:
    """The statements defining ``names`` and every statement they mention, in order."""
    by_name = {s.name: s for s in statements}
    unknown = names - by_name.keys()
    if unknown:
        raise QueryError(f"no view or macro named {', '.join(sorted(unknown))}")
    words = {s.name: set(re.findall(r"\w+", s.sql.lower())) for s in statements}
    wanted = set(names)
    for statement in reversed(statements):
        if statement.name in wanted:
            wanted |= words[statement.name] & by_name.keys()
    return tuple(s for s in statements if s.name in wanted)
