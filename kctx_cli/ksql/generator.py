"""The KSQL generator: ``KsqlGenerator`` renders KSQL trees (``sqlglot.exp`` nodes and the
ksqlDB-only classes of ``kctx_cli.ksql.nodes``) as text in kctx's canonical form.

Canonical form: keywords upper-case, unquoted identifiers upper-case (ksqlDB resolves them
so), back-quotes only where a name needs them (``keywords.needs_quotes``), ``SHOW`` for
``LIST``, ``STRING``/``INT`` for their aliases, one space between tokens, clauses in grammar
order.  Call it through ``kctx_cli.ksql.dialect.render``.
"""
from __future__ import annotations

from sqlglot import exp
from sqlglot.generator import Generator as _Generator

from kctx_cli.ksql import nodes as k
from kctx_cli.ksql.keywords import quote_name

# how each built-in type is written (the parser also reads the aliases INTEGER, VARCHAR)
_TYPE_SQL = {
    exp.DType.BOOLEAN: "BOOLEAN",
    exp.DType.INT: "INT",
    exp.DType.BIGINT: "BIGINT",
    exp.DType.DOUBLE: "DOUBLE",
    exp.DType.VARCHAR: "STRING",
    exp.DType.VARBINARY: "BYTES",
    exp.DType.DATE: "DATE",
    exp.DType.TIME: "TIME",
    exp.DType.TIMESTAMP: "TIMESTAMP",
}


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class KsqlGenerator(_Generator):
    """Renders KSQL trees in the canonical form described in the module docstring."""

    TRANSFORMS = {
        **_Generator.TRANSFORMS,
    }

    def identifier_sql(self, e: exp.Identifier) -> str:
        """A name as the tree holds it (the parser upper-cases unquoted names), back-quoted
        only where ksqlDB needs it (``keywords.quote_name``: lower case, special characters,
        reserved words)."""
        return quote_name(e.this)

    def literal_sql(self, e: exp.Literal) -> str:
        """A string in single quotes (a quote doubled: reference/lexical-structure.md) or a number
        as written."""
        return _string(e.this) if e.is_string else e.this

    def boolean_sql(self, e: exp.Boolean) -> str:
        """``TRUE`` / ``FALSE``."""
        return "TRUE" if e.this else "FALSE"

    def column_sql(self, e: exp.Column) -> str:
        """``column`` or ``source.column`` (the qualifier as written: a source name or alias)."""
        table = e.args.get("table")
        this = self.sql(e, "this")
        return f"{self.sql(table)}.{this}" if table else this

    def table_sql(self, e: exp.Table, sep: str = " AS ") -> str:
        """A source with its alias as ``NAME ALIAS`` (without AS; ``sep`` is sqlglot's and ignored)."""
        alias = e.args.get("alias")
        name = self.sql(e, "this")
        return f"{name} {self.sql(alias.this)}" if alias else name

    def alias_sql(self, e: exp.Alias) -> str:
        """``expression AS name``."""
        return f"{self.sql(e, 'this')} AS {self.sql(e, 'alias')}"

    def anonymous_sql(self, e: exp.Anonymous) -> str:
        """A function call ``NAME(arg, ...)``, the name as the parser keeps it (upper-case)."""
        return f"{e.this}({', '.join(self.sql(a) for a in e.expressions)})"

    def lambda_sql(self, e: exp.Lambda, arrow_sep: str = "=>", wrap: bool = True) -> str:
        """A lambda (SqlBase.g4 ``lambdaFunction``): ``x => body`` or ``(x, y) => body``;
        ``arrow_sep`` and ``wrap`` are sqlglot's and ignored."""
        params = e.expressions
        head = self.sql(params[0]) if len(params) == 1 else "(" + ", ".join(self.sql(p) for p in params) + ")"
        return f"{head} => {self.sql(e, 'this')}"

    def array_sql(self, e: exp.Array) -> str:
        """``ARRAY[x, ...]`` (SqlBase.g4 ``arrayConstructor``)."""
        return "ARRAY[" + ", ".join(self.sql(x) for x in e.expressions) + "]"

    def bracket_sql(self, e: exp.Bracket) -> str:
        """A subscript ``value[index]`` (SqlBase.g4 ``subscript``)."""
        return f"{self.sql(e, 'this')}[{', '.join(self.sql(x) for x in e.expressions)}]"

    def cast_sql(self, e: exp.Cast, safe_prefix: str | None = None) -> str:
        """``CAST(x AS type)``; ``safe_prefix`` is sqlglot's and ignored (ksqlDB has no TRY_CAST)."""
        return f"CAST({self.sql(e, 'this')} AS {self.sql(e, 'to')})"

    def attimezone_sql(self, e: exp.AtTimeZone) -> str:
        """``value AT TIME ZONE 'zone'`` (SqlBase.g4 ``timeZoneSpecifier``)."""
        return f"{self.sql(e, 'this')} AT TIME ZONE {self.sql(e, 'zone')}"

    def dpipe_sql(self, e: exp.DPipe) -> str:
        """String concatenation ``a || b`` (SqlBase.g4 ``concatenation``)."""
        return f"{self.sql(e, 'this')} || {self.sql(e, 'expression')}"

    def neg_sql(self, e: exp.Neg) -> str:
        """Unary minus ``-x``, as ``- -x`` when the operand starts with a minus: ``--`` starts a
        comment (reference/lexical-structure.md)."""
        inner = self.sql(e, "this")
        return f"- {inner}" if inner.startswith("-") else f"-{inner}"  # "--" starts a comment

    def not_sql(self, e: exp.Not) -> str:
        """``NOT x``, except that NOT goes after the left operand where the grammar puts it
        (SqlBase.g4 ``predicate``): ``x IS NOT y``, ``x NOT BETWEEN ...``, ``x NOT IN (...)``,
        ``x NOT LIKE ... [ESCAPE ...]``."""
        inner = e.this
        if isinstance(inner, exp.Is):
            return f"{self.sql(inner, 'this')} IS NOT {self.sql(inner, 'expression')}"
        # x NOT BETWEEN / NOT IN / NOT LIKE [ESCAPE]: NOT goes after the left operand
        operator = inner.this if isinstance(inner, exp.Escape) else inner
        if isinstance(operator, (exp.Between, exp.In, exp.Like)):
            text = self.sql(inner)
            left = self.sql(operator, "this")
            return f"{left} NOT {text[len(left) + 1:]}"
        return f"NOT {self.sql(inner)}"

    def in_sql(self, e: exp.In) -> str:
        """``x IN (a, ...)``."""
        return f"{self.sql(e, 'this')} IN ({', '.join(self.sql(x) for x in e.expressions)})"

    def escape_sql(self, e: exp.Escape) -> str:
        """``x LIKE pattern ESCAPE 'c'`` (SqlBase.g4 ``like``)."""
        return f"{self.sql(e, 'this')} ESCAPE {self.sql(e, 'expression')}"

    def nullsafeneq_sql(self, e: exp.NullSafeNEQ) -> str:
        """``a IS DISTINCT FROM b`` (SqlBase.g4 ``distinctFrom``)."""
        return f"{self.sql(e, 'this')} IS DISTINCT FROM {self.sql(e, 'expression')}"

    def nullsafeeq_sql(self, e: exp.NullSafeEQ) -> str:
        """``a IS NOT DISTINCT FROM b`` (SqlBase.g4 ``distinctFrom``)."""
        return f"{self.sql(e, 'this')} IS NOT DISTINCT FROM {self.sql(e, 'expression')}"

    def case_sql(self, e: exp.Case) -> str:
        """``CASE [operand] WHEN ... THEN ... [ELSE ...] END``, on one line."""
        parts = ["CASE"]
        if e.this:
            parts.append(self.sql(e, "this"))
        for branch in e.args.get("ifs") or []:
            parts.append(f"WHEN {self.sql(branch, 'this')} THEN {self.sql(branch, 'true')}")
        if e.args.get("default"):
            parts.append(f"ELSE {self.sql(e, 'default')}")
        parts.append("END")
        return " ".join(parts)

    def datatype_sql(self, e: exp.DataType) -> str:
        """A type as ksqlDB spells it (ksqldb-docs/data-types.md): ``ARRAY<T>``, ``MAP<K, V>``,
        ``STRUCT<name T, ...>``, ``DECIMAL(p, s)``, ``STRING`` / ``INT`` / ``BYTES`` for the
        aliases the parser also reads, a custom type's name (CREATE TYPE) quoted if needed."""
        kind = e.this
        params = e.expressions
        if kind == exp.DType.ARRAY:
            return f"ARRAY<{self.sql(params[0])}>"
        if kind == exp.DType.MAP:
            return f"MAP<{self.sql(params[0])}, {self.sql(params[1])}>"
        if kind == exp.DType.STRUCT:
            fields = ", ".join(f"{self.sql(f, 'this')} {self.sql(f, 'kind')}" for f in params)
            return f"STRUCT<{fields}>"
        if kind == exp.DType.USERDEFINED:
            name = quote_name(e.args["kind"])
        elif kind == exp.DType.DECIMAL:
            name = "DECIMAL"
        else:
            name = _TYPE_SQL.get(kind) or kind.value
        if params:
            return f"{name}({', '.join(self.sql(p) for p in params)})"
        return name

    def datatypeparam_sql(self, e: exp.DataTypeParam) -> str:
        """A type parameter (DECIMAL's precision or scale) as written."""
        return self.sql(e, "this")

    def var_sql(self, e: exp.Var) -> str:
        """A bare word as written (the parser makes one of a type parameter spelled STRING)."""
        return e.this

    def star_sql(self, e: exp.Star) -> str:
        """``*`` (``source.*`` is a Column, ``struct->*`` a StructDeref, around a Star)."""
        return "*"

    # -- ksqlDB nodes ----------------------------------------------------------

    def _props(self, props: list | None) -> str:
        if not props:
            return ""
        return "WITH (" + ", ".join(self.sql(p) for p in props) + ")"

    def _query(self, e: k.Query) -> str:
        parts = ["SELECT " + ", ".join(self.sql(x) for x in e.expressions)]
        parts.append("FROM " + self.sql(e.args["from_"].this))
        for join in e.args.get("joins") or []:
            parts.append(self.sql(join))
        if e.args.get("window"):
            parts.append(self.sql(e, "window"))
        if e.args.get("where"):
            parts.append("WHERE " + self.sql(e.args["where"].this))
        if e.args.get("group"):
            parts.append("GROUP BY " + (", ".join(self.sql(x) for x in e.args["group"].expressions) or "()"))
        if e.args.get("partition_by"):
            parts.append(self.sql(e, "partition_by"))
        if e.args.get("having"):
            parts.append("HAVING " + self.sql(e.args["having"].this))
        if e.args.get("emit"):
            parts.append(self.sql(e, "emit"))
        if e.args.get("limit"):
            parts.append("LIMIT " + self.sql(e.args["limit"], "expression"))
        return " ".join(parts)

    def _join(self, e: k.Join) -> str:
        side = e.args.get("side")
        head = {None: "JOIN", "": "JOIN", "LEFT": "LEFT JOIN", "RIGHT": "RIGHT JOIN", "FULL": "FULL OUTER JOIN"}[
            (side or "").upper() or None
        ]
        out = f"{head} {self.sql(e, 'this')}"
        if e.args.get("within"):
            out += " " + self.sql(e, "within")
        return f"{out} ON {self.sql(e, 'on')}"

    def _within(self, e: k.Within) -> str:
        after = e.args.get("after")
        out = f"WITHIN ({self.sql(e, 'before')}, {self.sql(after)})" if after else f"WITHIN {self.sql(e, 'before')}"
        if e.args.get("grace"):
            out += f" GRACE PERIOD {self.sql(e, 'grace')}"
        return out

    def _window(self, e: k.WindowClause) -> str:
        kind = e.args["kind"]
        size = self.sql(e, "size")
        items = [size if kind == "SESSION" else f"SIZE {size}"]
        if e.args.get("advance"):
            items.append(f"ADVANCE BY {self.sql(e, 'advance')}")
        if e.args.get("retention"):
            items.append(f"RETENTION {self.sql(e, 'retention')}")
        if e.args.get("grace"):
            items.append(f"GRACE PERIOD {self.sql(e, 'grace')}")
        name = f"{self.sql(e, 'name')} " if e.args.get("name") else ""
        return f"WINDOW {name}{kind} ({', '.join(items)})"

    def _create_source(self, e: k.CreateSource) -> str:
        parts = ["CREATE"]
        if e.args.get("replace"):
            parts.append("OR REPLACE")
        if e.args.get("source"):
            parts.append("SOURCE")
        parts.append(e.args["kind"])
        if e.args.get("exists"):
            parts.append("IF NOT EXISTS")
        name = self.sql(e, "this")
        cols = e.args.get("columns")
        parts.append(name + (" (" + ", ".join(self.sql(c) for c in cols) + ")" if cols else ""))
        if e.args.get("properties"):
            parts.append(self._props(e.args["properties"]))
        if e.args.get("expression"):
            parts.append("AS " + self.sql(e, "expression"))
        return " ".join(parts)

    def _column_def(self, e: k.ColumnDef) -> str:
        out = f"{self.sql(e, 'this')} {self.sql(e, 'kind')}"
        if e.args.get("constraint"):
            out += " " + e.args["constraint"]
        elif e.args.get("header"):
            out += f" HEADER({self.sql(e, 'header')})"
        return out

    def _exists(self, e: exp.Expression, text: str) -> str:
        return f" {text}" if e.args.get("exists") else ""

    def _all_or_id(self, word: str, e: exp.Expression) -> str:
        return f"{word} ALL" if e.args.get("all") else f"{word} {self.sql(e, 'this')}"

    def _show(self, e: k.Show) -> str:
        out = "SHOW"
        if e.args.get("all"):
            out += " ALL"
        if e.args.get("prefix"):
            out += " " + e.args["prefix"]
        out += " " + e.args["this"]
        return out + (" EXTENDED" if e.args.get("extended") else "")

    def _describe(self, e: k.Describe) -> str:
        kind = e.args.get("kind")
        if kind in ("FUNCTION", "CONNECTOR"):
            return f"DESCRIBE {kind} {self.sql(e, 'this')}"
        target = kind or self.sql(e, "this")
        return f"DESCRIBE {target}" + (" EXTENDED" if e.args.get("extended") else "")

    def _print(self, e: k.Print) -> str:
        out = f"PRINT {self.sql(e, 'this')}"
        if e.args.get("from_beginning"):
            out += " FROM BEGINNING"
        if e.args.get("interval"):
            out += f" INTERVAL {self.sql(e, 'interval')}"
        if e.args.get("limit"):
            out += f" LIMIT {self.sql(e, 'limit')}"
        return out

    def _assert_topic(self, e: k.AssertTopic) -> str:
        out = "ASSERT" + (" NOT EXISTS" if e.args.get("not_exists") else "") + f" TOPIC {self.sql(e, 'this')}"
        if e.args.get("properties"):
            out += " " + self._props(e.args["properties"])
        if e.args.get("timeout"):
            out += f" TIMEOUT {self.sql(e, 'timeout')}"
        return out

    def _assert_schema(self, e: k.AssertSchema) -> str:
        out = "ASSERT" + (" NOT EXISTS" if e.args.get("not_exists") else "") + " SCHEMA"
        if e.args.get("subject"):
            out += f" SUBJECT {self.sql(e, 'subject')}"
        if e.args.get("id"):
            out += f" ID {self.sql(e, 'id')}"
        if e.args.get("timeout"):
            out += f" TIMEOUT {self.sql(e, 'timeout')}"
        return out

    TRANSFORMS.update({
        k.Query: _query,
        k.Join: _join,
        k.Within: _within,
        k.WindowClause: _window,
        k.Duration: lambda self, e: f"{self.sql(e, 'this')} {e.args['unit']}",
        # an empty list is written "()" (grammar: partitionBy lists groupingExpressions)
        k.PartitionBy: lambda self, e: "PARTITION BY " + (", ".join(self.sql(x) for x in e.expressions) or "()"),
        k.Emit: lambda self, e: f"EMIT {e.this}",
        k.StructDeref: lambda self, e: f"{self.sql(e, 'this')}->{self.sql(e, 'expression')}",
        k.Variable: lambda self, e: "${" + e.this + "}",
        k.MapConstructor: lambda self, e: "MAP(" + ", ".join(
            f"{self.sql(x, 'this')} := {self.sql(x, 'expression')}" for x in e.expressions) + ")",
        k.StructConstructor: lambda self, e: "STRUCT(" + ", ".join(
            f"{self.sql(x, 'this')} := {self.sql(x, 'expression')}" for x in e.expressions) + ")",
        k.TimeUnit: lambda self, e: e.this,
        k.TypedLiteral: lambda self, e: f"{self.sql(e, 'this')} {self.sql(e, 'expression')}",
        k.Property: lambda self, e: f"{self.sql(e, 'this')}={self.sql(e, 'value')}",
        k.ColumnDef: _column_def,
        k.CreateSource: _create_source,
        k.CreateConnector: lambda self, e: (
            f"CREATE {e.args['kind']} CONNECTOR" + self._exists(e, "IF NOT EXISTS")
            + f" {self.sql(e, 'this')} {self._props(e.args['properties'])}"),
        k.InsertInto: lambda self, e: " ".join(filter(None, [
            f"INSERT INTO {self.sql(e, 'this')}", self._props(e.args.get("properties")),
            self.sql(e, "expression")])),
        k.InsertValues: lambda self, e: (
            f"INSERT INTO {self.sql(e, 'this')}"
            + (" (" + ", ".join(self.sql(c) for c in e.args["columns"]) + ")" if e.args.get("columns") else "")
            + " VALUES (" + ", ".join(self.sql(v) for v in e.expressions) + ")"),
        k.Drop: lambda self, e: (
            f"DROP {e.args['kind']}" + self._exists(e, "IF EXISTS") + f" {self.sql(e, 'this')}"
            + (" DELETE TOPIC" if e.args.get("delete_topic") else "")),
        k.AlterSource: lambda self, e: (
            f"ALTER {e.args['kind']} {self.sql(e, 'this')} "
            + ", ".join(f"ADD COLUMN {self.sql(c)}" for c in e.expressions)),
        k.CreateType: lambda self, e: (
            "CREATE TYPE" + self._exists(e, "IF NOT EXISTS") + f" {self.sql(e, 'this')} AS {self.sql(e, 'kind')}"),
        k.Terminate: lambda self, e: self._all_or_id("TERMINATE", e),
        k.Pause: lambda self, e: self._all_or_id("PAUSE", e),
        k.Resume: lambda self, e: self._all_or_id("RESUME", e),
        k.Define: lambda self, e: f"DEFINE {e.this.this} = {self.sql(e, 'value')}",
        k.Undefine: lambda self, e: f"UNDEFINE {e.this.this}",
        k.SetProperty: lambda self, e: f"SET {self.sql(e, 'this')} = {self.sql(e, 'value')}",
        k.UnsetProperty: lambda self, e: f"UNSET {self.sql(e, 'this')}",
        k.AlterSystem: lambda self, e: f"ALTER SYSTEM {self.sql(e, 'this')} = {self.sql(e, 'value')}",
        k.AssertTopic: _assert_topic,
        k.AssertSchema: _assert_schema,
        k.Show: _show,
        k.Describe: _describe,
        k.Explain: lambda self, e: f"EXPLAIN {self.sql(e, 'this')}",
        k.Print: _print,
    })
