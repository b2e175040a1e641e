"""Yielding to writers: the pause a backfill takes after each chunk, from what the writers do."""

from __future__ import annotations

import pytest

from outbox_triggers.yielding import MAX_PAUSE_FACTOR, Writers


def test_the_pause_keeps_writers_at_their_share() -> None:
    writers = Writers(0.9)
    writers._learn(busy=100, idle=1000)  # a chunk slows them to a tenth
    assert writers.factor == pytest.approx(8.0)  # (8 + 0.1) / (8 + 1) = 0.9
    assert (writers.factor + 0.1) / (writers.factor + 1) == pytest.approx(0.9)


def test_writers_a_chunk_does_not_slow_need_no_pause() -> None:
    writers = Writers(0.9)
    writers._learn(busy=980, idle=1000)
    assert writers.factor == 0.0


def test_the_pause_follows_the_writers_smoothly_and_is_bounded() -> None:
    writers = Writers(0.9)
    writers._learn(busy=100, idle=1000)
    writers._learn(busy=500, idle=1000)
    assert 0 < writers.factor < 8.0  # halfway between a slowdown of 0.1 and of 0.5
    stalled = Writers(0.99)
    stalled._learn(busy=0, idle=1000)
    assert stalled.factor == MAX_PAUSE_FACTOR


def test_when_the_writers_go_quiet_the_pause_fades_out() -> None:
    writers = Writers(0.9)
    writers._learn(busy=100, idle=1000)
    for _ in range(10):
        writers._learn(busy=0, idle=0)
    assert writers.factor == 0.0 and writers.slowdown is None
