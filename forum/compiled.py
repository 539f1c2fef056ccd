"""Querysets compiled to SQL once per process, for the hottest reads.

The ORM rebuilds a queryset and compiles its SQL on every call. For the thread page's one
query (the thread, its board and the viewer's state) that was ~0.4 ms of SQL building and as
much again of queryset cloning per request, next to ~0.35 ms in the database (bench dataset,
in-process, docs/PERFORMANCE.md): most of a visitor's cached thread page. A CompiledQuery asks
the ORM once per process for the SQL and the row layout of a queryset built from placeholder
values, and from then on substitutes the real values, executes, and builds the instances as
the ORM's own ModelIterable does: same columns, same database converters, select_related
objects and annotations. tests/forum/test_compiled.py checks the instances against the ORM's.

Only for querysets whose SQL does not depend on the values (no `__in` lists, no conditional
clauses): the queryset is compiled with two sets of placeholder values, and each parameter of
the SQL must be either a placeholder (it follows the values) or a constant (the same in both),
with the same SQL text, or building the plan fails loudly. Integer placeholders are meant for
equality with an id: a value outside the 64-bit range matches nothing (as the ORM's integer
lookups do since Django 5.0), instead of reaching the database as an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import (
    ModelIterable,
    ValuesListIterable,
    get_related_populators,
)

# Placeholder values: unlikely in real data, and distinct so each parameter maps to one name.
_INT_BASE = 2_147_480_000
_INT_RANGE = range(-(2**63), 2**63)


@dataclass(frozen=True)
class _Plan:
    sql: str
    slots: tuple[tuple[str | None, Any], ...]  # each SQL parameter: (placeholder, None) or
    # (None, constant), in order
    model: type[Model] | None  # None: a values_list() queryset, rows come back as tuples
    start: int
    end: int
    init_list: list[str]
    related: list[Any]  # django.db.models.query.RelatedPopulator
    annotations: dict[str, int]
    converted: tuple[tuple[int, Any], ...]  # (column, expression) that have converters


class CompiledQuery:
    """`build(**values) -> QuerySet`, compiled once per database; `fetch(**values)` runs it.

    `placeholders` names each value and says its type ("int" or "str"), e.g.
    CompiledQuery(lambda thread_id: Thread.objects.filter(pk=thread_id)[:1], thread_id="int").
    """

    def __init__(self, build: Callable[..., QuerySet], **placeholders: str) -> None:
        self._build = build
        # Two sets of placeholder values: a parameter that differs between the two compilations
        # is a placeholder; one that is the same in both is a constant of the query.
        self._placeholders: dict[str, Any] = {}
        self._others: dict[str, Any] = {}
        for i, (name, kind) in enumerate(placeholders.items()):
            if kind == "int":
                self._placeholders[name], self._others[name] = _INT_BASE + i, _INT_BASE - 1 - i
            elif kind == "str":
                self._placeholders[name] = f"\x1fplaceholder-{name}\x1f"
                self._others[name] = f"\x1fother-{name}\x1f"
            else:
                raise ValueError(f"placeholder {name}: type must be 'int' or 'str', not {kind!r}")
        self._ints = tuple(n for n, kind in placeholders.items() if kind == "int")
        self._plans: dict[tuple[str, str], _Plan] = {}

    def _plan(self, db: str) -> _Plan:
        key = (db, connections[db].vendor)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._compile(db)
        return plan

    def _compile(self, db: str) -> _Plan:
        queryset = self._build(**self._placeholders)
        compiler = queryset.query.get_compiler(using=db)
        sql, params = compiler.as_sql()
        other_sql, other_params = self._build(**self._others).query.get_compiler(using=db).as_sql()
        if other_sql != sql or len(other_params) != len(params):
            raise ImproperlyConfigured(
                f"{queryset.model.__name__} query: its SQL changes with the placeholder values"
            )
        names = {value: name for name, value in self._placeholders.items()}
        slots: list[tuple[str | None, Any]] = []  # (placeholder name, None) or (None, constant)
        for param, other in zip(params, other_params, strict=True):
            name = names.get(param)
            if name is not None and other == self._others[name]:
                slots.append((name, None))
            elif param == other and param not in names:
                slots.append((None, param))
            else:
                raise ImproperlyConfigured(
                    f"{queryset.model.__name__} query: SQL parameter {param!r} is neither a "
                    f"placeholder {sorted(self._placeholders)} nor a constant"
                )
        select, klass_info = compiler.select, compiler.klass_info
        expressions = [s[0] for s in select[: compiler.col_count]]
        converters = compiler.get_converters(expressions)
        if queryset._iterable_class is ValuesListIterable:  # values_list(): plain rows
            model, start, end, init_list, related = None, 0, compiler.col_count, [], []
        elif queryset._iterable_class is not ModelIterable:
            raise ImproperlyConfigured("CompiledQuery takes model or values_list() querysets")
        else:
            fields = klass_info["select_fields"]
            model, start, end = klass_info["model"], fields[0], fields[-1] + 1
            init_list = [s[0].target.attname for s in select[start:end]]
            related = get_related_populators(klass_info, select, db)
        return _Plan(
            sql=sql,
            slots=tuple(slots),
            model=model,
            start=start,
            end=end,
            init_list=init_list,
            related=related,
            annotations=dict(compiler.annotation_col_map or {}),
            converted=tuple((i, expr) for i, (_, expr) in converters.items()),
        )

    def fetch(self, **values: Any) -> list[Any]:
        """The model instances (or, for values_list(), the tuples) that the queryset built from
        `values` would give."""
        for name in self._ints:
            if int(values[name]) not in _INT_RANGE:
                return []
        model = self._build_model()
        db = router.db_for_read(model)
        plan = self._plan(db)
        connection = connections[db]
        params = [const if name is None else values[name] for name, const in plan.slots]
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, params)
            rows = cursor.fetchall()
        if plan.converted and rows:
            convert = [
                (
                    i,
                    connection.ops.get_db_converters(expr) + expr.get_db_converters(connection),
                    expr,
                )
                for i, expr in plan.converted
            ]
            converted_rows = []
            for row in rows:
                row = list(row)
                for i, funcs, expr in convert:
                    value = row[i]
                    for func in funcs:
                        value = func(value, expr, connection)
                    row[i] = value
                converted_rows.append(row)
            rows = converted_rows
        if plan.model is None:
            return [tuple(row[: plan.end]) for row in rows]
        out = []
        for row in rows:
            obj = plan.model.from_db(db, plan.init_list, row[plan.start : plan.end])
            for populator in plan.related:
                populator.populate(row, obj)
            for name, i in plan.annotations.items():
                setattr(obj, name, row[i])
            out.append(obj)
        return out

    def first(self, **values: Any) -> Any:
        rows = self.fetch(**values)
        return rows[0] if rows else None

    def _build_model(self) -> type[Model]:
        model = getattr(self, "_model", None)
        if model is None:
            model = self._model = self._build(**self._placeholders).model
        return model
