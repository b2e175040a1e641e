"""Numbers as the JVM prints them: what Maxwell's Jackson writes for FLOAT, DOUBLE and DECIMAL.

``Float.toString``/``Double.toString``: the shortest digits that read back
as the same value, in plain notation between 10^-3 and 10^7 (``1.0``,
``0.001``) and as ``d.dddE±n`` outside it (``1.0E-5``, ``3.4028235E38``).
``BigDecimal.toString``: the unscaled digits with the scale, switching to
``E`` notation when the exponent is below -6 (``0E-30`` for a DECIMAL(65,30) zero).
"""

from __future__ import annotations

import json
import math
import struct
from decimal import Decimal


def float_text(value: float, single: bool) -> str:
    """``Float.toString`` (``single``) or ``Double.toString`` of ``value``."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{value} has no JSON form")
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    digits, exponent = _shortest(value, single)
    sign = "-" if value < 0 else ""
    if -3 <= exponent < 7:
        point = exponent + 1
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        whole, fraction = digits[:point].ljust(point, "0"), digits[point:] or "0"
        return f"{sign}{whole}.{fraction}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _shortest(value: float, single: bool) -> tuple[str, int]:
    """The shortest significant digits of ``value`` and its decimal exponent (d.ddd times 10^e)."""
    if single:
        target = _single(value)
        for precision in range(1, 10):
            text = f"{abs(target):.{precision - 1}e}"
            if _single(float(text)) == abs(target):
                break
    else:
        text = f"{abs(value):.16e}"
        for precision in range(1, 18):
            text = f"{abs(value):.{precision - 1}e}"
            if float(text) == abs(value):
                break
    mantissa, exponent = text.split("e")
    return mantissa.replace(".", "").rstrip("0") or "0", int(exponent)


def _single(value: float) -> float:
    """``value`` rounded to a float32 (infinity past its range, where a rounded-up digit string lands)."""
    try:
        return float(struct.unpack("<f", struct.pack("<f", value))[0])
    except OverflowError:
        return math.inf


def decimal_text(text: str) -> str:
    """``BigDecimal.toString`` of a DECIMAL written as ``text`` (its scale kept)."""
    number = Decimal(text)
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    unscaled = "".join(map(str, digits)).lstrip("0") or "0"
    scale = -exponent
    adjusted = len(unscaled) - 1 - scale
    prefix = "-" if sign else ""
    if scale >= 0 and adjusted >= -6:
        return prefix + text.lstrip("-+")
    mantissa = unscaled[0] + ("." + unscaled[1:] if len(unscaled) > 1 else "")
    return f"{prefix}{mantissa}E{'+' if adjusted > 0 else ''}{adjusted}"


def json_text(value: object) -> str:
    """A JSON document as mysql-binlog-connector-java's ``JsonStringFormatter`` writes it (Debezium's Json).

    Compact (no spaces), strings as JSON strings, a double as ``Double.toString`` unless that has an
    exponent, then as the double's exact ``BigDecimal.toPlainString``.
    """
    if isinstance(value, dict):
        return "{" + ",".join(f"{_string(str(k))}:{json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    if isinstance(value, float):
        text = float_text(value, single=False)
        return format(Decimal(value), "f") if "E" in text else text
    if isinstance(value, str):
        return _string(value)
    return json.dumps(value)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
