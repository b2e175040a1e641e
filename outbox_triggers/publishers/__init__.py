"""Publishers: one module per destination type, all behind :class:`Publisher`."""

from __future__ import annotations

from outbox_triggers.defaults import AWS_TIMEOUTS, Timeouts
from outbox_triggers.errors import DestinationError
from outbox_triggers.publishers.base import Message, Publisher, PublishResult
from outbox_triggers.spec import Destination

__all__ = ["Message", "PublishResult", "Publisher", "create"]


def create(destination: Destination, max_in_flight: int, timeouts: Timeouts = AWS_TIMEOUTS) -> Publisher:
    """The publisher for a spec destination, its AWS requests bound by ``timeouts``."""
    if destination.type == "sqs":
        from outbox_triggers.publishers.sqs import SqsPublisher

        return SqsPublisher.from_destination(destination, max_in_flight, timeouts)
    if destination.type == "sns":
        from outbox_triggers.publishers.sns import SnsPublisher

        return SnsPublisher.from_destination(destination, max_in_flight, timeouts)
    if destination.type == "kinesis":
        from outbox_triggers.publishers.kinesis import KinesisPublisher

        return KinesisPublisher.from_destination(destination, max_in_flight, timeouts)
    if destination.type == "eventbridge":
        from outbox_triggers.publishers.eventbridge import EventBridgePublisher

        return EventBridgePublisher.from_destination(destination, max_in_flight, timeouts)
    if destination.type == "stub":
        from outbox_triggers.publishers.stub import StubPublisher

        return StubPublisher(destination.name)
    raise DestinationError(f"destinations.{destination.name}.type: unknown type {destination.type!r}")
