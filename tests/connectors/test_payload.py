"""Typed reads from a decoded JSON body: the right types pass, a wrong shape is a ValueError naming the field."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from connectors import payload as p


def test_values_of_the_documented_type_are_read() -> None:
    body = {"o": {"a": 1}, "n": None, "l": [1], "s": "x", "i": 3, "d": "12.50", "f": 0.1, "b": False}
    assert (p.obj(body), p.obj(body, "o"), p.opt_obj(body, "n"), p.seq(body, "l")) == (body, {"a": 1}, None, [1])
    assert (p.text(body, "s"), p.integer(body, "i"), p.boolean(body, "b")) == ("x", 3, False)
    assert p.decimal(body, "d") == Decimal("12.50")
    assert p.decimal(body, "f") == Decimal("0.1")  # the number as written, not its binary expansion
    assert p.decimal(body, "i") == Decimal(3)


WRONG_SHAPES = [
    (lambda b: p.obj(b), [], "body: expected an object, got list"),
    (lambda b: p.obj(b, "o"), {"o": "x"}, "o: expected an object"),
    (lambda b: p.seq(b, "l"), {"l": {}}, "l: expected an array"),
    (lambda b: p.text(b, "s"), {"s": 5}, "s: expected a string"),
    (lambda b: p.text(b, "s"), {}, "s: expected a string, got NoneType"),
    (lambda b: p.text(b, "s"), "not an object", "s: parent is not an object"),
    (lambda b: p.integer(b, "i"), {"i": True}, "i: expected an integer, got bool"),
    (lambda b: p.integer(b, "i"), {"i": 1.0}, "i: expected an integer, got float"),
    (lambda b: p.boolean(b, "b"), {"b": "true"}, "b: expected a boolean"),
    (lambda b: p.decimal(b, "d"), {"d": "lots"}, "d: 'lots' is not a number"),
    (lambda b: p.decimal(b, "d"), {"d": "NaN"}, "d: 'NaN' is not a finite number"),
    (lambda b: p.decimal(b, "d"), {"d": "Infinity"}, "d: 'Infinity' is not a finite number"),
    (lambda b: p.decimal(b, "d"), {"d": True}, "d: expected a number, got bool"),
    (lambda b: p.decimal(b, "d"), {"d": None}, "d: expected a number, got NoneType"),
    (lambda b: p.opt_obj(b, "o"), {}, "o: missing"),  # may be null, but must be there
    (lambda b: p.opt_obj(b, "o"), {"o": []}, "o: expected an object or null"),
    (lambda b: p.opt_text(b, "s"), {"s": 1}, "s: expected a string or null"),
]


@pytest.mark.parametrize(("read", "body", "message"), WRONG_SHAPES, ids=[m for *_, m in WRONG_SHAPES])
def test_a_wrong_shape_names_the_field(read, body, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        read(body)


def test_optional_and_defaulted_reads() -> None:
    assert p.opt_text({}, "s") is None  # absent is fine for an optional string
    assert p.opt_text({"s": "x"}, "s") == "x"
    assert p.text({}, "s", default="") == ""
    assert p.opt_obj({"o": {"a": 1}}, "o") == {"a": 1}
