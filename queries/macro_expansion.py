"""Macros expanded in place: the catalogue as plain SELECTs that any engine can be handed.

DuckDB macros are the catalogue's way of writing each rule once (``queries/helpers/``,
``schemas/sql/``); engines without macros (Spark) get the same SQL with every call replaced by
the macro's body, parameters bound to the call's arguments:

* a scalar macro call ``causal_state(top_key)`` becomes ``(<body>)`` with each parameter
  replaced by its argument (in parentheses);
* a table macro in ``FROM``/``JOIN`` becomes a subquery of its body, under the call's alias (or
  the macro's name); ``query_table('name')`` (a relation passed by name) becomes that relation.

Hygiene: the table aliases a scalar macro's body declares are renamed on expansion
(``g`` -> ``g__covered_1``), so a body's alias never captures a column of the call site.

The result is still DuckDB SQL (the expansion is checked by running it there); the dialect
rewrites come after (:mod:`tasqlake.queries.spark_sql`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from tasqlake.queries.loader import SqlObject
from tasqlake.schemas.errors import QueryError

DIALECT = "duckdb"

_MACRO_HEAD = re.compile(
    r"^\s*CREATE\s+OR\s+REPLACE\s+MACRO\s+(?P<name>\w+)\s*\((?P<params>[^)]*)\)\s*AS\s+"
    r"(?P<table>TABLE\b)?",
    re.I,
)
_PARAM = re.compile(r"^\s*(?P<name>\w+)\s*(?::=\s*(?P<default>.+?))?\s*$", re.S)


@dataclass(frozen=True, slots=True)
class Macro:
    """One macro of the catalogue: parameters (with their defaults) and its parsed body."""

    name: str
    params: tuple[str, ...]
    defaults: dict[str, exp.Expr]
    table: bool
    body: exp.Expr
    location: str

    def bind(self, call: exp.Func) -> dict[str, exp.Expr]:
        """The argument of each parameter in ``call`` (positional, then ``name := value``)."""
        bound: dict[str, exp.Expr] = {}
        positional = [a for a in call.expressions if not isinstance(a, exp.PropertyEQ)]
        if len(positional) > len(self.params):
            raise QueryError(
                f"{self.location}: {self.name} takes {len(self.params)} arguments, "
                f"called with {len(positional)}: {call.sql(DIALECT)}"
            )
        for name, value in zip(self.params, positional, strict=False):
            bound[name] = value
        for named in call.expressions:
            if isinstance(named, exp.PropertyEQ):
                key = named.this.name.lower()
                if key not in self.params:
                    raise QueryError(f"{self.location}: {self.name} has no parameter {key}")
                bound[key] = named.expression
        for name in self.params:
            if name not in bound:
                if name not in self.defaults:
                    raise QueryError(
                        f"{self.location}: {self.name} called without {name}: {call.sql(DIALECT)}"
                    )
                bound[name] = self.defaults[name]
        return bound


def parse_statement(obj: SqlObject) -> exp.Expr:
    """The query a view is defined by (the SELECT of ``CREATE VIEW … AS``)."""
    try:
        create = sqlglot.parse_one(obj.sql, read=DIALECT)
    except sqlglot.errors.ParseError as error:
        raise QueryError(f"{obj.location}: sqlglot cannot parse it: {error}") from None
    query = create.expression
    if not isinstance(query, exp.Query):
        raise QueryError(f"{obj.location}: expected CREATE VIEW … AS <query>")
    return query


def parse_macro(obj: SqlObject) -> Macro:
    """A macro file's head (name, parameters, defaults, TABLE or not) and its parsed body."""
    head = _MACRO_HEAD.match(obj.sql)
    if head is None:
        raise QueryError(f"{obj.location}: expected CREATE OR REPLACE MACRO name(…) AS …")
    params: list[str] = []
    defaults: dict[str, exp.Expr] = {}
    for text in filter(str.strip, head["params"].split(",")):
        param = _PARAM.match(text)
        if param is None:
            raise QueryError(f"{obj.location}: cannot read the parameter {text.strip()!r}")
        name = param["name"].lower()
        params.append(name)
        if param["default"] is not None:
            defaults[name] = sqlglot.parse_one(param["default"], read=DIALECT)
    body_text = obj.sql[head.end() :].strip().removesuffix(";")
    try:
        if head["table"]:
            body = sqlglot.parse_one(body_text, read=DIALECT)
        else:
            select = sqlglot.parse_one(f"SELECT {body_text}", read=DIALECT)
            assert isinstance(select, exp.Select)
            body = select.expressions[0]
    except sqlglot.errors.ParseError as error:
        raise QueryError(f"{obj.location}: sqlglot cannot parse its body: {error}") from None
    return Macro(obj.name, tuple(params), defaults, bool(head["table"]), body, obj.location)


class Expander:
    """Expands the calls of ``macros`` in a query (the macros' bodies expanded too)."""

    def __init__(self, macros: Iterable[Macro]) -> None:
        self.macros = {m.name: m for m in macros}
        self._serial = itertools.count(1)

    def expand(self, query: exp.Expr) -> exp.Expr:
        return self._expand(query.copy(), ())

    def _expand(self, node: exp.Expr, trail: tuple[str, ...]) -> exp.Expr:
        def visit(current: exp.Expr) -> exp.Expr:
            if isinstance(current, exp.Table) and isinstance(current.this, exp.Anonymous):
                return self._table_call(current, trail)
            if isinstance(current, exp.Anonymous):
                macro = self.macros.get(current.name.lower())
                if macro is not None and not macro.table:
                    return self._scalar_call(macro, current, trail)
            return current

        return node.transform(visit, copy=False)

    def _enter(self, macro: Macro, trail: tuple[str, ...]) -> tuple[str, ...]:
        if macro.name in trail:
            raise QueryError(f"{macro.location}: {' -> '.join((*trail, macro.name))} recurses")
        return (*trail, macro.name)

    def _scalar_call(self, macro: Macro, call: exp.Anonymous, trail: tuple[str, ...]) -> exp.Expr:
        inner = self._enter(macro, trail)
        arguments = {k: self._expand(v.copy(), trail) for k, v in macro.bind(call).items()}
        body = _renamed_aliases(macro.body.copy(), f"{macro.name}_{next(self._serial)}")
        return exp.Paren(this=self._expand(_substituted(body, arguments), inner))

    def _table_call(self, table: exp.Table, trail: tuple[str, ...]) -> exp.Expr:
        call = table.this
        assert isinstance(call, exp.Anonymous)
        name = call.name.lower()
        alias = table.alias or name
        if name == "query_table":
            relation = _relation_name(call)
            return exp.Table(
                this=exp.to_identifier(relation),
                alias=exp.TableAlias(this=exp.to_identifier(alias)) if table.alias else None,
            )
        macro = self.macros.get(name)
        if macro is None or not macro.table:
            call.set("expressions", [self._expand(a, trail) for a in call.expressions])
            return table
        inner = self._enter(macro, trail)
        arguments = {k: self._expand(v.copy(), trail) for k, v in macro.bind(call).items()}
        body = self._expand(_substituted(macro.body.copy(), arguments), inner)
        return exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _relation_name(call: exp.Anonymous) -> str:
    argument = call.expressions[0] if call.expressions else None
    if isinstance(argument, exp.Literal) and argument.is_string:
        return str(argument.this)
    raise QueryError(f"query_table needs a relation's name as a string: {call.sql(DIALECT)}")


def _substituted(body: exp.Expr, arguments: dict[str, exp.Expr]) -> exp.Expr:
    """``body`` with each unqualified column named like a parameter replaced by its argument."""

    def visit(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name.lower() in arguments:
            value = arguments[node.name.lower()].copy()
            if isinstance(node.parent, exp.Anonymous) and node.parent.name.lower() == "query_table":
                return value
            return value if isinstance(value, exp.Literal | exp.Column) else exp.Paren(this=value)
        return node

    return body.transform(visit, copy=False)


def _renamed_aliases(body: exp.Expr, suffix: str) -> exp.Expr:
    """``body`` with the table aliases it declares (``FROM t AS g``) renamed ``g__<suffix>``
    and the columns qualified by them following."""
    renamed: dict[str, str] = {}
    for alias in body.find_all(exp.TableAlias):
        if isinstance(alias.parent, exp.Table | exp.Subquery) and alias.name:
            new = f"{alias.name}__{suffix}"
            renamed[alias.name.lower()] = new
            alias.set("this", exp.to_identifier(new))
    if renamed:
        for column in body.find_all(exp.Column):
            if column.table and column.table.lower() in renamed:
                column.set("table", exp.to_identifier(renamed[column.table.lower()]))
    return body
