"""Spatial values: the native GeoJSON as WKT (Maxwell's text) and as WKB (Debezium's bytes).

Maxwell writes JTS's ``Geometry.toText()``: ``POINT (1 2)``, ``LINESTRING (0 0, 1 1)``,
``MULTIPOINT ((1 2), (3 4))``, ``GEOMETRYCOLLECTION (POINT (1 2))``, ``POINT EMPTY``.
Debezium carries the server's WKB (little-endian, SRID stripped).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

_WKB_CODE = {
    "Point": 1,
    "LineString": 2,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
    "GeometryCollection": 7,
}


def wkt(geometry: dict[str, Any]) -> str:
    """JTS's WKT of a GeoJSON geometry."""
    kind = geometry["type"]
    name = kind.upper()
    if kind == "GeometryCollection":
        members = geometry["geometries"]
        return f"{name} EMPTY" if not members else f"{name} ({', '.join(wkt(g) for g in members)})"
    coordinates = geometry["coordinates"]
    if not coordinates:
        return f"{name} EMPTY"
    if kind == "Point":
        return f"{name} ({_point(coordinates)})"
    if kind == "MultiPoint":
        return f"{name} ({', '.join(f'({_point(p)})' for p in coordinates)})"
    depth = {"LineString": 1, "Polygon": 2, "MultiLineString": 2, "MultiPolygon": 3}[kind]
    return f"{name} {_nested(coordinates, depth)}"


def _nested(coordinates: Sequence[Any], depth: int) -> str:
    if depth == 1:
        return f"({', '.join(_point(p) for p in coordinates)})"
    return f"({', '.join(_nested(c, depth - 1) for c in coordinates)})"


def _point(point: Sequence[float]) -> str:
    return " ".join(_number(v) for v in point)


def _number(value: float) -> str:
    """A coordinate as JTS prints it: integral values without a fraction."""
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def wkb(geometry: dict[str, Any]) -> bytes:
    """Little-endian WKB of a GeoJSON geometry (what MySQL stores after its 4-byte SRID)."""
    kind = geometry["type"]
    head = struct.pack("<BI", 1, _WKB_CODE[kind])
    if kind == "GeometryCollection":
        members = geometry["geometries"]
        return head + struct.pack("<I", len(members)) + b"".join(wkb(g) for g in members)
    coordinates = geometry["coordinates"]
    if kind == "Point":
        x, y = coordinates[:2] if coordinates else (float("nan"), float("nan"))
        return head + struct.pack("<dd", x, y)
    if kind.startswith("Multi"):
        single = kind[len("Multi") :]
        parts = [wkb({"type": single, "coordinates": c}) for c in coordinates]
        return head + struct.pack("<I", len(parts)) + b"".join(parts)
    if kind == "LineString":
        return head + _points(coordinates)
    return head + struct.pack("<I", len(coordinates)) + b"".join(_points(ring) for ring in coordinates)


def _points(points: Sequence[Sequence[float]]) -> bytes:
    return struct.pack("<I", len(points)) + b"".join(struct.pack("<dd", p[0], p[1]) for p in points)
