"""Hypothesis strategies and checks the fuzz tests share: odd text, odd numbers, any JSON, and 'nothing written'."""

from __future__ import annotations

from django.db import connection
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

fuzz = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# Strings that break things somewhere: NUL, lone surrogates, bidi overrides, line separators, astral planes.
NASTY_TEXT = st.sampled_from(
    ["\x00", "a\x00b", "\ud800", "\udfff", "x\udc00y", "\u202e", "\u2028", "\ufeff", "\uffff", "😀", "", " ", "é" * 300]
)
ANY_TEXT = st.one_of(st.text(st.characters(codec=None, exclude_categories=()), max_size=40), NASTY_TEXT)
HUGE_NUMBERS = st.sampled_from([-1, 0, 2**31, 2**63, -(2**63) - 1, 2**64, 10**30, 10**4000, 1e308, -0.0, 5e-324])
NUMBERS = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), HUGE_NUMBERS)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ANY_TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(ANY_TEXT, children, max_size=4)),
    max_leaves=12,
)


def row_counts() -> dict[str, int]:
    """Rows in every table, in one query: 'nothing is written' means this does not change."""
    tables = sorted(connection.introspection.table_names(include_views=False))
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Table names from the database's own catalogue, quoted: nothing from outside reaches this SQL.
        counts = ", ".join(f"(SELECT COUNT(*) FROM {q(t)})" for t in tables)  # noqa: S608
        cursor.execute("SELECT " + counts)
        return dict(zip(tables, cursor.fetchone(), strict=True))
