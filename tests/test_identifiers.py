"""Unit tests for identifier checking, quoting, literals and trigger naming (no database)."""

from __future__ import annotations

import re

import pytest

from outbox_triggers import identifiers
from outbox_triggers.errors import IdentifierError, SpecError

ACCEPTED = [
    "orders",
    "select",
    "order",
    "group",
    "order items",
    " leading_space",
    "order-items",
    "café",
    "中文",
    "it's",
    '"quoted"',
    "back`tick",
    "123",
    "$dollar",
    "x" * 64,
    "é" * 64,
]


@pytest.mark.parametrize("name", ACCEPTED)
def test_check_accepts_names_mysql_can_quote(name: str) -> None:
    assert identifiers.check(name) == name


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("orders", "`orders`"),
        ("select", "`select`"),
        ("order items", "`order items`"),
        ("order-items", "`order-items`"),
        ("café", "`café`"),
        ("中文", "`中文`"),
        ("it's", "`it's`"),
        ('"quoted"', '`"quoted"`'),
        ("back`tick", "`back``tick`"),
        ("``", "``````"),
        ("a`b`c", "`a``b``c`"),
    ],
)
def test_quote(name: str, quoted: str) -> None:
    assert identifiers.quote(name) == quoted


def test_quoted_name_round_trips() -> None:
    name = "we`ird ` name"
    quoted = identifiers.quote(name)
    assert quoted.startswith("`") and quoted.endswith("`")
    assert quoted[1:-1].replace("``", "`") == name
    # No lone backtick can end the identifier early.
    assert re.fullmatch(r"`(?:[^`]|``)*`", quoted)


REFUSED = [
    pytest.param("", "it is empty", id="empty"),
    pytest.param("x" * 65, "it is 65 characters long; MySQL allows 64", id="65-chars"),
    pytest.param("é" * 100, "it is 100 characters long; MySQL allows 64", id="100-unicode-chars"),
    pytest.param("ord\x00ers", "NUL character", id="nul"),
    pytest.param("orders ", "ends with a space", id="trailing-space"),
    pytest.param("orders\U0001f600", "outside the Basic Multilingual Plane", id="emoji"),
    pytest.param("\U00020000", "outside the Basic Multilingual Plane", id="cjk-extension-b"),
]


@pytest.mark.parametrize(("name", "reason"), REFUSED)
def test_check_refuses_with_reason(name: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as info:
        identifiers.check(name, "table")
    message = str(info.value)
    assert message.startswith(f"table {name!r} cannot be used: ")
    assert reason in message


@pytest.mark.parametrize(("name", "reason"), REFUSED)
def test_quote_refuses_what_check_refuses(name: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=re.escape(reason)):
        identifiers.quote(name)


def test_check_default_description_is_identifier() -> None:
    with pytest.raises(IdentifierError, match=r"^identifier '' cannot be used: it is empty$"):
        identifiers.check("")


def test_identifier_error_is_a_spec_error() -> None:
    with pytest.raises(SpecError):
        identifiers.quote("")


# --- literal -------------------------------------------------------------------------------------

HEX_LITERAL = re.compile(r"CONVERT\(X'([0-9a-f]*)' USING utf8mb4\)")


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("orders", "'orders'"),
        ("", "''"),
        ("it's", "'it''s'"),
        ("''", "''''''"),
        ('say "hi"', "'say \"hi\"'"),
        ("café 中文", "'café 中文'"),
        ("back`tick", "'back`tick'"),
    ],
)
def test_literal_doubles_single_quotes(text: str, rendered: str) -> None:
    assert identifiers.literal(text) == rendered


@pytest.mark.parametrize(
    "text", ["a\\b", "\\", "it's a \\ path", "C:\\temp\\中文", "\\'; DROP TABLE x; --", "nul\x00"]
)
def test_literal_with_backslash_or_nul_is_hex(text: str) -> None:
    rendered = identifiers.literal(text)
    match = HEX_LITERAL.fullmatch(rendered)
    assert match, rendered
    assert bytes.fromhex(match.group(1)).decode("utf-8") == text
    assert "\\" not in rendered and "\x00" not in rendered


# --- trigger names -------------------------------------------------------------------------------

OPERATIONS = ("insert", "update", "delete")


def test_trigger_name_is_deterministic() -> None:
    assert identifiers.trigger_name("orders", "insert") == identifiers.trigger_name("orders", "insert")


def test_trigger_name_shape() -> None:
    name = identifiers.trigger_name("orders", "update")
    assert re.fullmatch(r"outbox_au_orders_[0-9a-f]{10}", name), name


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("table", ["x" * 64, "é" * 64, "a-" * 32, "orders", "中文", "`", "t"])
def test_trigger_name_is_a_valid_identifier(table: str, operation: str) -> None:
    name = identifiers.trigger_name(table, operation)
    assert len(name) <= identifiers.MAX_IDENTIFIER
    assert identifiers.check(name) == name
    assert re.fullmatch(r"[A-Za-z0-9_]+", name), name
    assert identifiers.is_toolkit_trigger(name)


def test_trigger_name_for_64_char_table_fits_exactly() -> None:
    name = identifiers.trigger_name("x" * 64, "delete")
    assert len(name) == 64
    assert name.startswith("outbox_ad_xxx")


def test_trigger_names_differ_for_long_names_with_shared_prefix() -> None:
    prefix = "p" * 60
    first, second = prefix + "aaaa", prefix + "bbbb"
    for op in OPERATIONS:
        assert identifiers.trigger_name(first, op) != identifiers.trigger_name(second, op)


def test_trigger_names_differ_per_operation() -> None:
    names = {identifiers.trigger_name("orders", op) for op in OPERATIONS}
    assert len(names) == 3
    assert sorted(n[:10] for n in names) == ["outbox_ad_", "outbox_ai_", "outbox_au_"]


def test_trigger_names_differ_when_slugs_collide() -> None:
    tables = ["a-b", "a_b", "a b", "a--b", "A_B"]
    names = [identifiers.trigger_name(t, "insert") for t in tables]
    assert len(set(names)) == len(tables), names
    # The readable part is the same slug; only the hash keeps them apart.
    assert all(n.startswith("outbox_ai_a_b_") for n in names[:4])


def test_trigger_name_of_table_without_safe_characters_is_still_named() -> None:
    first = identifiers.trigger_name("中文", "insert")
    second = identifiers.trigger_name("日本", "insert")
    assert re.fullmatch(r"outbox_ai_t_[0-9a-f]{10}", first)
    assert first != second


@pytest.mark.parametrize(
    "name",
    [
        "orders_audit",
        "outbox_ai_orders",
        "outbox_ai_orders_XYZ",
        "outbox_ax_orders_0123456789",
        "ai_orders",
        "outbox_ai_orders_0123456789_x",
        "OUTBOX_AI_orders_0123456789",
    ],
)
def test_is_toolkit_trigger_false_for_other_names(name: str) -> None:
    assert not identifiers.is_toolkit_trigger(name)


def test_is_toolkit_trigger_true_for_produced_names() -> None:
    for table in ["orders", "order items", "p" * 64]:
        for op in OPERATIONS:
            assert identifiers.is_toolkit_trigger(identifiers.trigger_name(table, op))
