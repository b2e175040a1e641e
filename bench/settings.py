"""How big and how long each benchmark runs: the full suite and the CI smoke version."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Sizes, round counts and time limits for one run of the suite."""

    quick: bool
    write_rounds: int
    write_seconds: float
    write_prefill: int
    drain_events: int
    drain_rounds: int
    pipeline_events: int
    pipeline_rounds: int
    latency_rounds: int
    latency_seconds: float
    peer_rounds: int
    backlog_events: int
    claim_samples: int
    backlog_timeout_s: float
    startup_runs: int = 7
    latency_rate: int = 1000
    batch_size: int = 500
    max_in_flight: int = 16
    request_entries: int = 10
    request_latency_s: float = 0.015
    backfill_rows: int = 1_000_000


FULL = Settings(
    quick=False,
    write_rounds=9,
    write_seconds=1.0,
    write_prefill=20_000,
    drain_events=100_000,
    drain_rounds=5,
    pipeline_events=24_000,
    pipeline_rounds=3,
    latency_rounds=3,
    latency_seconds=5.0,
    peer_rounds=3,
    backlog_events=1_000_000,
    claim_samples=300,
    backlog_timeout_s=330.0,
)

QUICK = Settings(
    quick=True,
    write_rounds=2,
    write_seconds=0.3,
    write_prefill=2_000,
    drain_events=10_000,
    drain_rounds=2,
    pipeline_events=3_200,
    pipeline_rounds=1,
    latency_rounds=1,
    latency_seconds=1.0,
    peer_rounds=1,
    backlog_events=50_000,
    claim_samples=100,
    backlog_timeout_s=60.0,
    startup_runs=3,
    backfill_rows=200_000,
)
