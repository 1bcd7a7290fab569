"""The catalogue as Spark SQL, made mechanically from the same ``.sql`` files DuckDB runs.

There is one catalogue: ``queries/views``, ``queries/helpers`` and ``schemas/sql``. This module
turns it into Spark SQL in four steps, each a rewrite of the parsed statement (sqlglot):

1. **Macros expanded** (:mod:`tasqlake.queries.macro_expansion`): Spark has none.
2. **Unions by name made positional.** Spark's grammar has no ``UNION ALL BY NAME``. Each side's
   columns are asked of DuckDB (``DESCRIBE`` of the side, in its context, over an empty lake),
   so the right side is put in the left side's order and a column missing on one side becomes a
   typed NULL, exactly as DuckDB aligns them.
3. **Storage read by relations the caller registers.** ``read_partitions(<lake glob>)`` with its
   typed empty branch becomes a relation ``tasqlake_files_<part>`` that
   :func:`tasqlake.spark.register` builds from the lake's Parquet files (columns and types of
   the empty branch, plus ``date``, ``hour`` and ``filename``); ``glob(<lake glob>)`` becomes a
   relation ``tasqlake_listing_<part>`` of file names. Both come from ONE listing of the lake.
4. **DuckDB idioms rewritten where Spark means something else** (:data:`REWRITES`), notably
   ``arg_max(x, k)``, which skips NULL ``x`` in DuckDB but not as Spark's ``max_by``, and
   ``time_bucket``, which Spark lacks. ``as_of`` is the Spark session variable ``as_of`` (a
   ``TIMESTAMP`` in the session time zone, which must be UTC), declared by ``register``.

Table macros of the contract (``queue_depth_series``, ``throughput_series``) become
parameterised queries: their parameters are Spark named parameter markers (``:width``).
Scalar macros of the contract become temporary SQL functions.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from typing import ClassVar

import duckdb
import sqlglot
from sqlglot import exp, transforms
from sqlglot.dialects.spark import Spark
from sqlglot.generators.spark import SparkGenerator

from tasqlake.queries.connection import (
    connect,
)
from tasqlake.queries.loader import SqlObject, load
from tasqlake.queries.macro_expansion import (
    DIALECT,
    Expander,
    Macro,
    parse_macro,
    parse_statement,
)
from tasqlake.schemas.errors import QueryError, error_reason

#: The Spark session variable every view answers as of (NULL: now), as DuckDB's ``as_of``.
AS_OF_VARIABLE = "as_of"
#: Prefix of the relations of lake files that register() defines.
FILES_PREFIX = "tasqlake_files_"
#: Prefix of the relations of lake file names that register() defines.
LISTING_PREFIX = "tasqlake_listing_"
#: DuckDB's time_bucket origin for widths under a month (Monday 2000-01-03 00:00 UTC), in µs.
TIME_BUCKET_ORIGIN_US = 946_857_600_000_000
#: Sentinels for DuckDB's infinite timestamps and dates (Spark has none).
INFINITE = {
    ("infinity", "timestamp"): "TIMESTAMP '9999-12-31 23:59:59.999999'",
    ("-infinity", "timestamp"): "TIMESTAMP '0001-01-01 00:00:00'",
    ("infinity", "date"): "DATE '9999-12-31'",
    ("-infinity", "date"): "DATE '0001-01-01'",
}
#: The parameters of the contract's scalar macros and what they return, as Spark types: a
#: Spark SQL function declares them, a DuckDB macro does not.
FUNCTION_SIGNATURES: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "as_of": ((), "TIMESTAMP"),
    "covered": ((("t", "TIMESTAMP"),), "BOOLEAN"),
    "coverage_complete": ((("start_at", "TIMESTAMP"), ("end_at", "TIMESTAMP")), "BOOLEAN"),
    "error_class": ((("error", "STRING"), ("traceback", "STRING")), "STRING"),
}
#: Values the parameters of the contract's table macros take while DuckDB describes them.
_PROBE_ARGUMENTS = {
    "width": "INTERVAL '1 minute'",
    "since": "CAST(NULL AS TIMESTAMPTZ)",
    "until": "CAST(NULL AS TIMESTAMPTZ)",
}
_GLOB_VARIABLE = re.compile(r"^tasqlake_(\w+)_glob$")
#: Spark's TIMESTAMP (with local time zone semantics; the session's zone is UTC).
_INSTANT = exp.DataType(this=exp.DType.TIMESTAMPTZ)


class _SparkGenerator(SparkGenerator):
    """Spark 4 has QUALIFY and nested CTEs: keep them (sqlglot's Spark rewrites QUALIFY into a
    subquery whose helper column leaks into ``SELECT *``, and hoists nested CTEs to the top,
    where two expanded macros' CTEs of one name collide)."""

    EXPRESSIONS_WITHOUT_NESTED_CTES: ClassVar[set[type[exp.Expr]]] = set()

    TRANSFORMS: ClassVar = {
        **SparkGenerator.TRANSFORMS,
        exp.Select: transforms.preprocess(
            [transforms.eliminate_distinct_on, transforms.unnest_to_explode]
        ),
    }


class SparkDialect(Spark):
    Generator = _SparkGenerator


@dataclass(frozen=True, slots=True)
class FilesRelation:
    """Lake files a Spark statement reads: the glob variable that locates them in DuckDB, the
    relation register() must define, and its columns (name, Spark type) in order."""

    variable: str
    relation: str
    columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SparkStatement:
    """One object of the catalogue in Spark SQL."""

    name: str
    kind: str  # "view" | "function" | "table_macro"
    sql: str  # CREATE … for views and functions, the query for table macros
    location: str
    contract: bool
    files: tuple[FilesRelation, ...] = ()
    listings: tuple[str, ...] = ()  # glob variables whose file names it lists
    parameters: tuple[tuple[str, str | None], ...] = field(default=())  # table macros
    #: a function of the lake's file names alone (no file read, no as_of): register()
    #: computes it once from its listing
    listing_only: bool = False


def relation_of(variable: str, prefix: str) -> str:
    """The relation name standing for a glob variable (``tasqlake_events_glob`` ->
    ``tasqlake_files_events``)."""
    match = _GLOB_VARIABLE.match(variable)
    if match is None:
        raise QueryError(f"{variable!r} is not a lake glob variable")
    return prefix + match[1]


# --- step 2: unions by name ---------------------------------------------------------------------
class _Describer:
    """Columns of a query fragment, asked of DuckDB over an empty lake with the catalogue."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def columns(self, fragment: exp.Expr, context: exp.Expr) -> list[tuple[str, str]]:
        probe = _probe_query(fragment, context)
        sql = probe.sql(DIALECT)
        try:
            rows = self.con.execute(f"DESCRIBE {sql}").fetchall()
        except duckdb.Error as error:
            raise QueryError(
                f"DuckDB cannot describe a union's side: {error_reason(error)}"
            ) from None
        return [(str(r[0]), str(r[1])) for r in rows]


def _probe_query(fragment: exp.Expr, context: exp.Expr) -> exp.Expr:
    """``SELECT * FROM (<fragment>)`` with the CTEs of its enclosing queries that precede it."""
    ctes: list[exp.CTE] = []
    node = fragment.parent
    while node is not None:
        with_ = node.args.get("with_") if isinstance(node, exp.Query) else None
        if isinstance(with_, exp.With):
            before = []
            for cte in with_.expressions:
                if _contains(cte, fragment):
                    break  # the CTE the fragment is in: only those before it are in scope
                before.append(cte.copy())
            inner = {c.alias_or_name for c in ctes}  # an inner CTE shadows an outer namesake
            ctes[:0] = [c for c in before if c.alias_or_name not in inner]
        node = node.parent
    query = exp.select("*").from_(exp.Subquery(this=fragment.copy(), alias="_side"))
    if ctes:
        query.set("with_", exp.With(expressions=ctes))
    for name, value in _PROBE_ARGUMENTS.items():
        for column in list(query.find_all(exp.Column)):
            if not column.table and column.name == name and _is_parameter(column, context):
                column.replace(sqlglot.parse_one(value, read=DIALECT))
    return query


def _contains(tree: exp.Expr, node: exp.Expr) -> bool:
    return any(n is node for n in tree.walk())


def _is_parameter(column: exp.Column, context: exp.Expr) -> bool:
    return bool(context.meta.get("parameters")) and column.name in context.meta["parameters"]


def _aligned(
    side: exp.Query, have: list[tuple[str, str]], want: list[tuple[str, str]]
) -> exp.Query:
    """``side`` with the columns of ``want`` in its order (missing ones as typed NULLs)."""
    names = [n for n, _ in have]
    if names == [n for n, _ in want]:
        return side
    projections: list[exp.Expr] = []
    for name, duck_type in want:
        if name in names:
            projections.append(exp.column(name, quoted=True))
        else:
            null = exp.cast(exp.null(), exp.DataType.build(duck_type, dialect=DIALECT))
            projections.append(exp.alias_(null, name, quoted=True))
    return exp.select(*projections).from_(exp.Subquery(this=side, alias="_by_name"))


def _positional_unions(query: exp.Expr, describer: _Describer) -> None:
    """Every ``UNION [ALL] BY NAME`` in ``query`` rewritten as a positional union."""
    unions = [u for u in query.find_all(exp.Union, bfs=False) if u.args.get("by_name")]
    for union in reversed(unions):  # innermost first
        if _reads_storage(union):
            continue
        left, right = union.this, union.expression
        left_cols = describer.columns(left, query)
        right_cols = describer.columns(right, query)
        known = {n for n, _ in left_cols}
        want = left_cols + [(n, t) for n, t in right_cols if n not in known]
        union.set("by_name", None)
        union.set("this", _aligned(left, left_cols, want))
        union.set("expression", _aligned(right, right_cols, want))


# --- step 3: storage ----------------------------------------------------------------------------
def _lake_variable(node: exp.Expr) -> str | None:
    """The lake glob variable of ``getvariable('tasqlake_…_glob')``."""
    for call in node.find_all(exp.Anonymous):
        if call.name.lower() == "getvariable" and call.expressions:
            value = call.expressions[0]
            if isinstance(value, exp.Literal) and _GLOB_VARIABLE.match(value.this):
                return str(value.this)
    return None


def _reads_storage(union: exp.Union) -> bool:
    """``SELECT * FROM read_partitions(…) UNION ALL BY NAME <typed empty branch>``."""
    left = union.this
    source = left.args.get("from_") if isinstance(left, exp.Select) else None
    table = source.this if isinstance(source, exp.From) else None
    return (
        isinstance(table, exp.Table)
        and isinstance(table.this, exp.Anonymous)
        and table.this.name.lower() == "read_partitions"
    )


def _storage_relations(
    query: exp.Expr, describer: _Describer
) -> tuple[list[FilesRelation], list[str]]:
    """Replace the lake reads of ``query`` by the relations register() defines."""
    files: list[FilesRelation] = []
    for union in list(query.find_all(exp.Union)):
        if not (union.args.get("by_name") and _reads_storage(union)):
            continue
        variable = _lake_variable(union.this)
        if variable is None:
            raise QueryError("read_partitions must read a lake glob variable")
        columns = describer.columns(union.expression, query)
        relation = relation_of(variable, FILES_PREFIX)
        files.append(
            FilesRelation(
                variable,
                relation,
                tuple(
                    (name, exp.DataType.build(t, dialect=DIALECT).sql(SparkDialect))
                    for name, t in columns
                ),
            )
        )
        union.replace(exp.select("*").from_(relation))
    listings: list[str] = []
    for table in list(query.find_all(exp.Table)):
        call = table.this
        if isinstance(call, exp.Anonymous) and call.name.lower() == "glob":
            variable = _lake_variable(call)
            if variable is None:
                raise QueryError("glob() must list a lake glob variable")
            listings.append(variable)
            table.replace(
                exp.Table(
                    this=exp.to_identifier(relation_of(variable, LISTING_PREFIX)),
                    alias=table.args.get("alias"),
                )
            )
    return files, listings


# --- step 4: DuckDB idioms ----------------------------------------------------------------------
def _function(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _micros(value: exp.Expr) -> exp.Expr:
    return _function("unix_micros", value)


def _by(node: exp.Expr) -> exp.Expr:
    """``arg_max(x, k)`` -> ``max_by(x, k)`` over the rows whose x is not NULL (DuckDB's
    arg_max skips them, Spark's max_by does not); ``arg_max_null`` is ``max_by`` as it is."""
    name = "max_by" if isinstance(node, exp.ArgMax) else "min_by"
    value, key = node.this, node.expression
    call = _function(name, value.copy(), key.copy())
    not_null = exp.Not(this=exp.Is(this=value.copy(), expression=exp.null()))
    parent = node.parent
    if isinstance(parent, exp.Filter):
        where = parent.expression
        assert isinstance(where, exp.Where)
        where.set("this", exp.and_(not_null, where.this.copy()))
        return call
    return exp.Filter(this=call, expression=exp.Where(this=not_null))


def _time_bucket(call: exp.Expr, width: exp.Expr, ts: exp.Expr) -> exp.Expr:
    """DuckDB's ``time_bucket(width, ts)`` (origin 2000-01-03 for widths under a month) in
    integer microseconds: origin + (us - origin) - pmod(us - origin, width_us)."""
    origin = exp.Literal.number(TIME_BUCKET_ORIGIN_US)
    width_us = exp.Paren(
        this=exp.Sub(
            this=_micros(
                exp.Add(
                    this=exp.cast(exp.Literal.string("2000-01-03"), _INSTANT),
                    expression=width.copy(),
                )
            ),
            expression=origin.copy(),
        )
    )
    offset = exp.Paren(this=exp.Sub(this=_micros(ts.copy()), expression=origin.copy()))
    floored = exp.Sub(this=offset, expression=_function("pmod", offset.copy(), width_us))
    return _function("timestamp_micros", exp.Add(this=origin, expression=floored))


def _inline_windows(select: exp.Select) -> exp.Select:
    """``OVER (w ROWS …)`` over a named window: Spark refuses a frame added to a named window,
    so every window of the SELECT is written out in full and the WINDOW clause dropped."""
    named = {w.name.lower(): w for w in select.args.get("windows") or []}
    for window in select.find_all(exp.Window):
        alias = window.args.get("alias")
        if not isinstance(alias, exp.Identifier) or alias.name.lower() not in named:
            continue
        if window.find_ancestor(exp.Select) is not select:
            continue
        definition = named[alias.name.lower()]
        window.set("alias", None)
        for key in ("partition_by", "order"):
            if definition.args.get(key) is not None:
                value = definition.args[key]
                window.set(
                    key, [v.copy() for v in value] if isinstance(value, list) else value.copy()
                )
    select.set("windows", None)
    return select


def _literal_int(node: exp.Expr) -> int | None:
    if isinstance(node, exp.Neg):
        inner = _literal_int(node.this)
        return None if inner is None else -inner
    if isinstance(node, exp.Literal) and not node.is_string:
        return int(node.this)
    return None


def _rewrite(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Select) and node.args.get("windows"):
        return _inline_windows(node)
    if isinstance(node, exp.ArgMax | exp.ArgMin):
        return _by(node)
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        target = node.to.this
        kind = (
            "date"
            if target == exp.DType.DATE
            else "timestamp"
            if target in (exp.DType.TIMESTAMPTZ, exp.DType.TIMESTAMP, exp.DType.TIMESTAMPLTZ)
            else None
        )
        sentinel = INFINITE.get((node.this.this.lower(), kind or ""))
        if sentinel:
            return sqlglot.parse_one(sentinel, read="spark")
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        position = _literal_int(node.expressions[0])
        if position is not None:  # sqlglot keeps DuckDB's 1-based index minus one
            return _function("try_element_at", node.this.copy(), exp.Literal.number(position + 1))
    if isinstance(node, exp.Div) and not (
        isinstance(node.this, exp.Cast) and node.this.to.this == exp.DType.DOUBLE
    ):  # DuckDB's / is a DOUBLE division (decimals too); Spark's keeps decimals decimal
        node.set("this", exp.cast(node.this.copy(), "DOUBLE"))
        return node
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)
        return node
    if isinstance(node, exp.PercentileCont):
        return _function("percentile", node.this.copy(), node.expression.copy())
    if isinstance(node, exp.DateBin):
        return _time_bucket(node, node.this, node.expression)
    if isinstance(node, exp.Anonymous):
        rewrite = _ANONYMOUS.get(node.name.lower())
        if rewrite is not None:
            return rewrite(node, *node.expressions)
    if isinstance(node, exp.RegexpReplace) and node.args.get("modifiers") is not None:
        node.set("modifiers", None)  # Spark replaces every match
        return node
    if isinstance(node, exp.RegexpExtract) and isinstance(node.args.get("group"), exp.Array):
        names = [g.this for g in node.args["group"].expressions]
        pieces: list[exp.Expr] = []
        for index, name in enumerate(names, start=1):
            pieces.append(exp.Literal.string(name))
            pieces.append(
                _function(
                    "regexp_extract",
                    node.this.copy(),
                    node.expression.copy(),
                    exp.Literal.number(index),
                )
            )
        return _function("named_struct", *pieces)
    return node


_ANONYMOUS: dict[str, Callable[..., exp.Expr]] = {
    "getvariable": lambda node, *_: _session_variable(node),
    "arg_max_null": lambda _n, x, k: _function("max_by", x.copy(), k.copy()),
    "arg_min_null": lambda _n, x, k: _function("min_by", x.copy(), k.copy()),
    "epoch_us": lambda _n, ts: _micros(ts.copy()),
    "make_timestamptz": lambda _n, us: _function("timestamp_micros", us.copy()),
    # the session zone is UTC: one instant type (Spark's TIMESTAMP) serves both of DuckDB's
    "timezone": lambda _n, zone, ts: exp.cast(ts.copy(), _INSTANT),
    "time_bucket": _time_bucket,
    "parse_filename": lambda _n, path: _function(
        "regexp_extract", path.copy(), exp.Literal.string("([^/]*)$"), exp.Literal.number(1)
    ),
    "to_hours": lambda _n, hours: _function(
        "make_dt_interval", exp.Literal.number(0), hours.copy()
    ),
}

#: The rewrites of step 4, by what they rewrite (documentation, and the README's list).
REWRITES = (
    "arg_max(x, k) / arg_min -> max_by(x, k) / min_by FILTER (WHERE x IS NOT NULL)",
    "arg_max_null(x, k) -> max_by(x, k)",
    "time_bucket(width, ts) -> integer microseconds from 2000-01-03",
    "epoch_us -> unix_micros; make_timestamptz(us) -> timestamp_micros",
    "timezone('UTC', x) -> CAST(x AS TIMESTAMP) (the session time zone is UTC)",
    "'infinity' / '-infinity' -> 9999-12-31 / 0001-01-01",
    "list[-1] -> try_element_at(list, -1)",
    "quantile_cont(x, p) -> percentile(x, p) (exact, interpolated)",
    "regexp_extract(s, re, ['a', 'b']) -> named_struct of one regexp_extract per group",
    "regexp_replace(…, 'g') -> regexp_replace(…)",
    "parse_filename(p) -> regexp_extract(p, '([^/]*)$', 1)",
    "AS MATERIALIZED -> a plain CTE",
)


def _as_of_macro() -> Macro:
    """``as_of_variable()`` as Spark has it: a variable that is already a TIMESTAMP (in the
    session time zone, UTC). Written for DuckDB (which still describes the expanded SQL), step 4
    turns ``getvariable('as_of')`` into the Spark session variable."""
    body = sqlglot.parse_one(f"CAST(getvariable('{AS_OF_VARIABLE}') AS TIMESTAMPTZ)", read=DIALECT)
    return Macro("as_of_variable", (), {}, False, body, "queries/helpers/as_of_variable.sql")


def _session_variable(call: exp.Expr) -> exp.Expr:
    """``getvariable('as_of')`` -> the Spark session variable ``system.session.as_of``."""
    name = call.expressions[0] if call.expressions else None
    if not (isinstance(name, exp.Literal) and name.this == AS_OF_VARIABLE):
        raise QueryError(
            f"{call.sql(DIALECT)}: only the variable {AS_OF_VARIABLE} is known on Spark"
        )
    return exp.Column(
        this=exp.to_identifier(AS_OF_VARIABLE),
        table=exp.to_identifier("session"),
        db=exp.to_identifier("system"),
    )


# --- the whole catalogue ------------------------------------------------------------------------
def _spark_sql(tree: exp.Expr) -> str:
    """``tree`` rewritten (to a fixpoint: a rewrite may copy arguments that need one too) and
    generated as Spark SQL."""
    text = tree.sql(DIALECT)
    for _ in range(8):
        tree = tree.transform(_rewrite)
        new = tree.sql(DIALECT)
        if new == text:
            return tree.sql(dialect=SparkDialect, pretty=True)
        text = new
    raise QueryError("the Spark rewrites do not settle")


def _translate(
    obj: SqlObject,
    query: exp.Expr,
    expander: Expander,
    describer: _Describer,
    parameters: tuple[str, ...] = (),
) -> tuple[str, list[FilesRelation], list[str]]:
    try:
        expanded = expander.expand(query)
        expanded.meta["parameters"] = parameters
        _positional_unions(expanded, describer)
        files, listings = _storage_relations(expanded, describer)
        for name in parameters:
            for column in list(expanded.find_all(exp.Column)):
                if not column.table and column.name == name:
                    column.replace(exp.Placeholder(this=name))
        return _spark_sql(expanded), files, listings
    except QueryError as error:
        raise QueryError(f"{obj.location}: cannot turn it into Spark SQL: {error}") from None


def _function_statement(obj: SqlObject, macro: Macro, expander: Expander) -> str:
    if obj.name not in FUNCTION_SIGNATURES:
        raise QueryError(
            f"{obj.location}: a scalar macro of the contract needs its Spark signature in "
            "queries/spark_sql.py FUNCTION_SIGNATURES"
        )
    params, returns = FUNCTION_SIGNATURES[obj.name]
    if tuple(p for p, _ in params) != macro.params:
        raise QueryError(
            f"{obj.location}: FUNCTION_SIGNATURES[{obj.name!r}] names {[p for p, _ in params]}, "
            f"the macro takes {list(macro.params)}"
        )
    body = expander.expand(macro.body)
    signature = ", ".join(f"{p} {t}" for p, t in params)
    return (
        f"CREATE OR REPLACE TEMPORARY FUNCTION {obj.name}({signature})\n"
        f"RETURNS {returns}\nRETURN {_spark_sql(body)}"
    )


@cache
def spark_catalogue() -> tuple[SparkStatement, ...]:
    """Every view of the catalogue (contract and helpers) as ``CREATE OR REPLACE TEMP VIEW``,
    the contract's scalar macros as temporary functions and its table macros as parameterised
    queries, in creation order."""
    objects = load()
    macros = [parse_macro(o) for o in objects if o.kind == "macro"]
    # read_partitions stays a call (step 3 replaces it); as_of_variable is Spark's variable
    kept = {"as_of_variable", "read_partitions"}
    expander = Expander([m for m in macros if m.name not in kept] + [_as_of_macro()])
    by_name = {m.name: m for m in macros}
    statements: list[SparkStatement] = []
    with tempfile.TemporaryDirectory(prefix="tasqlake-spark-") as empty, connect(empty) as con:
        describer = _Describer(con)
        for obj in objects:
            if obj.kind == "view":
                sql, files, listings = _translate(obj, parse_statement(obj), expander, describer)
                statements.append(
                    SparkStatement(
                        obj.name,
                        "view",
                        f"CREATE OR REPLACE TEMP VIEW {obj.name} AS\n{sql}",
                        obj.location,
                        obj.contract,
                        tuple(files),
                        tuple(listings),
                    )
                )
                continue
            macro = by_name[obj.name]
            if not obj.contract:
                continue  # expanded where it is used
            if macro.table:
                sql, files, listings = _translate(
                    obj, macro.body, expander, describer, parameters=macro.params
                )
                defaults = tuple(
                    (p, macro.defaults[p].sql(DIALECT) if p in macro.defaults else None)
                    for p in macro.params
                )
                statements.append(
                    SparkStatement(
                        obj.name,
                        "table_macro",
                        sql,
                        obj.location,
                        obj.contract,
                        tuple(files),
                        tuple(listings),
                        defaults,
                    )
                )
            else:
                statements.append(
                    SparkStatement(
                        obj.name,
                        "function",
                        _function_statement(obj, macro, expander),
                        obj.location,
                        obj.contract,
                    )
                )
    return tuple(_mark_listing_only(statements))


def _mark_listing_only(statements: list[SparkStatement]) -> list[SparkStatement]:
    """Mark the views whose every dependency is a listing (no lake file read, no as_of)."""
    pure: set[str] = set()
    marked = []
    for statement in statements:
        words = set(re.findall(r"\w+", statement.sql.lower()))
        mentioned = words & {s.name for s in statements} - {statement.name}
        is_pure = (
            statement.kind == "view"
            and not statement.files
            and AS_OF_VARIABLE not in words
            and not any(w.startswith(FILES_PREFIX) for w in words)
            and mentioned <= pure
        )
        if is_pure:
            pure.add(statement.name)
        marked.append(replace(statement, listing_only=is_pure))
    return marked


def iter_script(as_of: str | None = None) -> Iterator[str]:
    """The catalogue as one Spark SQL script (``tasqlake views --dialect spark``): the session
    variable, then every statement; table macros as comments naming their parameters."""
    yield "-- tasqlake catalogue in Spark SQL, made from queries/*.sql (queries/spark_sql.py)."
    yield "-- The lake's files are the relations tasqlake_files_<part> (Parquet of LAKE/<part>/,"
    yield "-- with date, hour and filename) and tasqlake_listing_<part> (file names): see"
    yield "-- tasqlake.spark.register, which defines them and runs this script."
    yield "SET spark.sql.session.timeZone = UTC;"
    default = f"TIMESTAMP '{as_of}'" if as_of else "NULL"
    yield f"DECLARE OR REPLACE VARIABLE {AS_OF_VARIABLE} TIMESTAMP DEFAULT {default};"
    for statement in spark_catalogue():
        yield f"\n-- {statement.name} ({statement.location})"
        if statement.kind == "table_macro":
            names = ", ".join(
                f":{p}" + (f" (default {d})" if d is not None else "")
                for p, d in statement.parameters
            )
            yield f"-- a parameterised query, parameters {names}:"
        yield statement.sql.rstrip() + ";"
