"""SNS, Kinesis, EventBridge and SQS FIFO destinations: end to end on moto's HTTP server; request building."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from outbox_triggers import commands, publishers, spec
from outbox_triggers.errors import DestinationError, SpecError
from outbox_triggers.publishers import Message
from outbox_triggers.publishers.aws import ordering_key
from outbox_triggers.publishers.eventbridge import EventBridgePublisher
from outbox_triggers.publishers.kinesis import KinesisPublisher, partition_key
from outbox_triggers.publishers.sns import SnsPublisher
from outbox_triggers.relay import Relay

from .conftest import ORDERS, Project, wait_for

integration = pytest.mark.integration

CHANGES = (
    "INSERT INTO orders (total) VALUES (1), (2), (3)",
    "UPDATE orders SET status = 'paid'",
    "UPDATE orders SET status = 'shipped' WHERE id IN (1, 2)",
    "DELETE FROM orders WHERE id = 3",
)
TABLE = "    event_types: {insert: OrderPlaced}\n"


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(5)}"


def track(project: Project, destinations: str, table: str = TABLE) -> list[dict[str, Any]]:
    """Track ``orders`` with ``destinations``, make the usual 9 changes, and return their events."""
    project.sql(ORDERS)
    project.write_spec(f"version: 1\ntables:\n  orders:\n{table}destinations:\n{destinations}")
    project.migrate()
    project.sql(*CHANGES)
    return project.events()


def relay_once(project: Project, batch_size: int = 4) -> None:
    stats = commands.relay(project.spec_path, project.url, once=True, batch_size=batch_size)
    assert stats.dead_lettered == 0 and stats.published > 0
    assert project.scalar("SELECT COUNT(*) FROM outbox_events") == 0


def receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message in the queue, received and deleted, until a receive comes back empty."""
    received: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return received
        received += messages
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def by_key(events: list[dict[str, Any]]) -> dict[int, list[str]]:
    """Event ids per order id, in the order given."""
    keys: dict[int, list[str]] = {}
    for event in events:
        keys.setdefault(event["key"]["id"], []).append(event["id"])
    return keys


def group_of(order_id: int) -> str:
    return f'orders:{{"id":{order_id}}}'


@pytest.fixture
def aws(moto_endpoint: str) -> Callable[[str], Any]:
    return lambda service: boto3.client(service)


@pytest.fixture
def new_queue(aws: Callable[[str], Any]) -> Iterator[Callable[..., tuple[str, str]]]:
    """Creates queues (URL, ARN) and deletes them afterwards."""
    sqs, made = aws("sqs"), []

    def make(fifo: bool = False) -> tuple[str, str]:
        name = unique("q") + (".fifo" if fifo else "")
        attributes = {"FifoQueue": "true"} if fifo else {}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        made.append(url)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return str(url), str(arn)

    yield make
    for url in made:
        sqs.delete_queue(QueueUrl=url)


# --- SNS -------------------------------------------------------------------------------------------


@integration
def test_sns_carries_table_op_and_event_type_attributes_for_filter_policies(
    project: Project, aws: Callable[[str], Any], new_queue: Callable[..., tuple[str, str]]
) -> None:
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name=unique("t"))["TopicArn"]
    (all_url, all_arn), (deletes_url, deletes_arn) = new_queue(), new_queue()
    raw = {"RawMessageDelivery": "true"}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=all_arn, Attributes=raw)
    only_deletes = {**raw, "FilterPolicy": json.dumps({"op": ["delete"]})}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=deletes_arn, Attributes=only_deletes)
    expected = track(project, f"  default:\n    type: sns\n    topic_arn: {topic}\n")

    relay_once(project)

    received = receive_all(sqs, all_url)
    assert sorted(json.loads(m["Body"])["id"] for m in received) == sorted(e["id"] for e in expected)
    for message in received:
        body, attributes = json.loads(message["Body"]), message["MessageAttributes"]
        event_type = "OrderPlaced" if body["op"] == "insert" else body["op"]
        assert {k: v["StringValue"] for k, v in attributes.items()} == {
            "table": "orders",
            "op": body["op"],
            "event_type": event_type,
        }
        assert all(v["DataType"] == "String" for v in attributes.values())
    deletes = [json.loads(m["Body"]) for m in receive_all(sqs, deletes_url)]
    assert [(d["op"], d["key"]) for d in deletes] == [("delete", {"id": 3})]


@integration
def test_sns_fifo_topic_sets_group_and_deduplication_ids(
    project: Project, aws: Callable[[str], Any], new_queue: Callable[..., tuple[str, str]]
) -> None:
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name=unique("t") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, arn = new_queue(fifo=True)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    expected = track(project, f"  default:\n    type: sns\n    topic_arn: {topic}\n")

    relay_once(project)

    received = receive_all(sqs, url)
    assert len(received) == len(expected)
    for message in received:
        body = json.loads(message["Body"])
        assert message["Attributes"]["MessageGroupId"] == group_of(body["key"]["id"])
        assert message["Attributes"]["MessageDeduplicationId"] == body["id"]
    assert by_key([json.loads(m["Body"]) for m in received]) == by_key(expected)


# --- Kinesis ---------------------------------------------------------------------------------------


def read_stream(kinesis: Any, stream: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(shard, partition key, event) for every record, shard by shard in sequence order."""
    records = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
            records.append((shard["ShardId"], record["PartitionKey"], json.loads(record["Data"])))
    return records


@integration
def test_kinesis_keeps_each_keys_order_within_its_shard(project: Project, aws: Callable[[str], Any]) -> None:
    kinesis, stream = aws("kinesis"), unique("s")
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    expected = track(project, f"  default:\n    type: kinesis\n    stream_arn: {arn}\n")

    relay_once(project, batch_size=3)

    records = read_stream(kinesis, stream)
    assert sorted(e["id"] for _, _, e in records) == sorted(e["id"] for e in expected)
    for shard, key, event in records:
        assert key == group_of(event["key"]["id"])
        assert {s for s, k, _ in records if k == key} == {shard}, "one key, one shard"
    assert by_key([e for _, _, e in records]) == by_key(expected)
    kinesis.delete_stream(StreamName=stream)


# --- EventBridge -----------------------------------------------------------------------------------


@integration
def test_eventbridge_rules_match_source_and_detail_type(
    project: Project, aws: Callable[[str], Any], new_queue: Callable[..., tuple[str, str]]
) -> None:
    events, sqs, bus = aws("events"), aws("sqs"), unique("bus")
    events.create_event_bus(Name=bus)
    (all_url, all_arn), (placed_url, placed_arn) = new_queue(), new_queue()
    for rule, pattern, arn in (
        ("from-orders", {"source": ["orders"]}, all_arn),
        ("placed", {"detail-type": ["OrderPlaced"]}, placed_arn),
    ):
        events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    expected = track(project, f"  default:\n    type: eventbridge\n    event_bus_name: {bus}\n")

    relay_once(project)

    delivered = {e["detail"]["id"]: e for e in (json.loads(m["Body"]) for m in receive_all(sqs, all_url))}
    assert set(delivered) == {e["id"] for e in expected}
    for event in expected:
        envelope = delivered[event["id"]]
        assert envelope["source"] == "orders"
        assert envelope["detail-type"] == ("OrderPlaced" if event["op"] == "insert" else event["op"])
        assert envelope["detail"] == event
    placed = [json.loads(m["Body"])["detail"]["op"] for m in receive_all(sqs, placed_url)]
    assert placed == ["insert"] * 3
    events.delete_event_bus(Name=bus)


# --- SQS FIFO --------------------------------------------------------------------------------------


@integration
def test_sqs_fifo_group_and_dedup_ids_and_per_key_order(
    project: Project, aws: Callable[[str], Any], new_queue: Callable[..., tuple[str, str]]
) -> None:
    url, _ = new_queue(fifo=True)
    expected = track(project, f"  default:\n    type: sqs\n    queue_url: {url}\n")

    relay_once(project, batch_size=3)

    received = receive_all(aws("sqs"), url)
    bodies = [json.loads(m["Body"]) for m in received]
    assert sorted(b["id"] for b in bodies) == sorted(e["id"] for e in expected)
    for message, body in zip(received, bodies, strict=True):
        assert message["Attributes"]["MessageGroupId"] == group_of(body["key"]["id"])
        assert message["Attributes"]["MessageDeduplicationId"] == body["id"]
    assert by_key(bodies) == by_key(expected)


# --- Fan-out across destination types --------------------------------------------------------------


@integration
def test_relay_fans_out_to_every_destination_type(
    project: Project, aws: Callable[[str], Any], new_queue: Callable[..., tuple[str, str]]
) -> None:
    sns, kinesis, events, sqs = aws("sns"), aws("kinesis"), aws("events"), aws("sqs")
    (queue, _), (via_topic, via_topic_arn), (via_bus, via_bus_arn) = new_queue(), new_queue(), new_queue()
    topic = sns.create_topic(Name=unique("t"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=via_topic_arn)
    stream, bus = unique("s"), unique("bus")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    events.create_event_bus(Name=bus)
    events.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": ["shop.orders"]}))
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": via_bus_arn}])
    expected = track(
        project,
        f"  queue: {{type: sqs, queue_url: {queue}}}\n"
        f"  topic: {{type: sns, topic_arn: {topic}, format: maxwell}}\n"
        f"  stream: {{type: kinesis, stream_name: {stream}}}\n"
        f"  bus: {{type: eventbridge, event_bus_name: {bus}, source: shop.orders, detail_type: change}}\n",
        table="    destination: [queue, topic, stream, bus]\n",
    )
    ids = sorted(e["id"] for e in expected)

    relay_once(project, batch_size=5)

    assert sorted(json.loads(m["Body"])["id"] for m in receive_all(sqs, queue)) == ids
    notifications = [json.loads(json.loads(m["Body"])["Message"]) for m in receive_all(sqs, via_topic)]
    assert sorted(n["event_id"] for n in notifications) == ids, "maxwell envelope, event id carried"
    assert sorted(e["id"] for _, _, e in read_stream(kinesis, stream)) == ids
    bus_events = [json.loads(m["Body"]) for m in receive_all(sqs, via_bus)]
    assert {(e["source"], e["detail-type"]) for e in bus_events} == {("shop.orders", "change")}
    assert sorted(e["detail"]["id"] for e in bus_events) == ids


@integration
def test_fan_out_deletes_a_row_only_once_every_destination_accepted(
    project: Project, aws: Callable[[str], Any], new_queue: Callable[..., tuple[str, str]]
) -> None:
    kinesis, sqs, stream = aws("kinesis"), aws("sqs"), unique("s")
    queue, _ = new_queue()
    expected = track(
        project,
        f"  queue: {{type: sqs, queue_url: {queue}}}\n  stream: {{type: kinesis, stream_name: {stream}}}\n",
        table="    destination: [queue, stream]\n",
    )
    loaded = spec.load(project.spec_path)
    built = {name: publishers.create(d, 4) for name, d in loaded.destinations.items()}
    with pytest.raises(DestinationError) as missing:
        built["stream"].check()
    assert "Kinesis stream is not usable: ResourceNotFoundException" in str(missing.value)
    assert "\n" not in str(missing.value) and "http" not in str(missing.value)
    relay = Relay(project.engine, "outbox_events", {"orders": [built["queue"], built["stream"]]}, 10, 0.01)
    thread = threading.Thread(target=relay.run)
    thread.start()
    try:
        on_queue: list[dict[str, Any]] = []
        wait_for(lambda: on_queue.extend(receive_all(sqs, queue)) or len(on_queue) >= len(expected))
        assert len(on_queue) == len(expected)
        assert project.scalar("SELECT COUNT(*) FROM outbox_events") == len(expected), (
            "stream has not accepted"
        )
        kinesis.create_stream(StreamName=stream, ShardCount=1)
        wait_for(lambda: project.scalar("SELECT COUNT(*) FROM outbox_events") == 0, what="rows deleted")
    finally:
        relay.request_stop()
        thread.join(10)
    assert sorted(e["id"] for _, _, e in read_stream(kinesis, stream)) == sorted(e["id"] for e in expected)
    assert receive_all(sqs, queue) == [], "the queue, which had accepted, was not sent them again"


@integration
def test_missing_destinations_fail_check_with_one_line(aws: Callable[[str], Any]) -> None:
    for destination in (
        spec.Destination("t", "sns", {"topic_arn": "arn:aws:sns:us-east-1:123456789012:nope"}),
        spec.Destination("s", "kinesis", {"stream_name": "nope"}),
        spec.Destination("b", "eventbridge", {"event_bus_name": "nope"}),
    ):
        with pytest.raises(DestinationError) as error:
            publishers.create(destination, 4).check()
        message = str(error.value)
        assert message.startswith(f"destination {destination.name!r}: ") and "not usable" in message
        assert "\n" not in message and "http" not in message


# --- Request building and limits, without AWS ------------------------------------------------------


class Canned:
    """A stand-in client for answers moto never gives (throttling, internal failures): records calls."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            self.calls.append((operation, kwargs))
            answer = self.answers[operation]
            if isinstance(answer, Exception):
                raise answer
            return answer(kwargs) if callable(answer) else answer

        return call


def message(seq: int, order_id: int = 1, op: str = "insert", body: str = "", **extra: Any) -> Message:
    event = {"id": f"id-{seq}", "table": "orders", "op": op, "key": {"id": order_id}, **extra}
    native = json.dumps(event)
    return Message(seq, "orders", order_id, body or native, native if body else "")


def test_sns_entries_carry_attributes_and_fifo_ids() -> None:
    fifo = SnsPublisher("t", "arn:aws:sns:us-east-1:1:t.fifo", Canned())
    entry = fifo._entry(message(7, 42, "update", event_type="OrderPaid"))
    assert entry["MessageAttributes"] == {
        "table": {"DataType": "String", "StringValue": "orders"},
        "op": {"DataType": "String", "StringValue": "update"},
        "event_type": {"DataType": "String", "StringValue": "OrderPaid"},
    }
    assert entry["MessageGroupId"] == group_of(42) and entry["MessageDeduplicationId"] == "id-7"
    standard = SnsPublisher("t", "arn:aws:sns:us-east-1:1:t", Canned())._entry(message(7))
    assert "MessageGroupId" not in standard and "MessageDeduplicationId" not in standard
    assert standard["MessageAttributes"]["event_type"]["StringValue"] == "insert", "defaults to the op"


def test_sns_counts_attributes_against_the_limit() -> None:
    client = Canned(
        publish_batch=lambda kw: {"Successful": [{"Id": e["Id"]} for e in kw["PublishBatchRequestEntries"]]}
    )
    sns = SnsPublisher("t", "arn:aws:sns:us-east-1:1:t", client, max_batch_bytes=2048)
    assert sns.max_message_bytes == 2048 and sns.max_request_bytes == 1024
    padded = message(1, body=json.dumps({"pad": "x" * 2020}))
    assert 2020 < padded.size <= 2048
    result = sns.send([padded, message(2), message(3)])
    assert padded.seq in result.rejected and "with its message attributes" in result.rejected[1]
    assert sorted(result.accepted) == [2, 3]
    big = [message(i, body=json.dumps({"pad": "x" * 650, "i": i})) for i in range(1, 4)]
    result = sns.send(big)
    assert result.accepted == [1, 2] and "sent again later" in result.failed[3]


def test_sns_per_entry_failures_and_missing_answers() -> None:
    answer = {
        "Successful": [{"Id": "1"}],
        "Failed": [
            {"Id": "2", "Code": "InvalidParameter", "Message": "bad", "SenderFault": True},
            {"Id": "3", "Code": "InternalError", "Message": "oops", "SenderFault": False},
            {"Id": "4", "Code": "KMSThrottling", "Message": "slow", "SenderFault": True},
        ],
    }
    sns = SnsPublisher("t", "arn:aws:sns:us-east-1:1:t", Canned(publish_batch=answer))
    result = sns.send([message(i) for i in range(1, 6)])
    assert result.accepted == [1]
    assert result.rejected == {2: "InvalidParameter: bad"}
    assert set(result.failed) == {3, 4, 5} and "no result" in result.failed[5]


def test_sns_check_learns_the_topic_limit() -> None:
    topic = Canned(get_topic_attributes={"Attributes": {"MaximumMessageSize": "1048576"}})
    sns = SnsPublisher("t", "arn:aws:sns:us-east-1:1:t", topic)
    sns.check()
    assert sns.max_message_bytes == 1_048_576
    capped = SnsPublisher("t", "arn:aws:sns:us-east-1:1:t", topic, max_batch_bytes=65536)
    capped.check()
    assert capped.max_message_bytes == 65536
    default = SnsPublisher("t", "arn:aws:sns:us-east-1:1:t", Canned(get_topic_attributes={"Attributes": {}}))
    default.check()
    assert default.max_message_bytes == 262_144


def test_kinesis_partition_keys_fit_and_records_classify_errors() -> None:
    long_native = json.dumps({"id": "x", "table": "orders", "op": "insert", "key": {"k": "é" * 300}})
    long_key = Message(1, "orders", 1, long_native)
    assert len(partition_key(long_key)) <= 128
    assert partition_key(message(2, 9)) == ordering_key("orders", message(2, 9).native) == group_of(9)
    answer = {
        "FailedRecordCount": 3,
        "Records": [
            {"SequenceNumber": "1", "ShardId": "s"},
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"},
            {"ErrorCode": "InternalFailure", "ErrorMessage": "oops"},
            {"ErrorCode": "KMSAccessDeniedException", "ErrorMessage": "no"},
        ],
    }
    client = Canned(put_records=answer)
    stream = KinesisPublisher("s", {"StreamName": "s"}, client)
    result = stream.send([message(i, i) for i in range(1, 6)])
    assert result.accepted == [1]
    assert set(result.failed) == {2, 3, 5} and result.rejected == {4: "KMSAccessDeniedException: no"}
    sent = client.calls[0][1]
    assert sent["StreamName"] == "s" and sent["Records"][0]["PartitionKey"] == group_of(1)


def test_kinesis_limits_and_stream_checks() -> None:
    stream = KinesisPublisher("s", {"StreamARN": "arn"}, Canned())
    assert stream.max_entries == 500
    assert stream.max_message_bytes == 1_048_576 and stream.max_request_bytes < 5 * 1_048_576
    summary = {"StreamStatus": "ACTIVE", "MaxRecordSizeInKiB": 10240}
    big = KinesisPublisher(
        "s",
        {"StreamARN": "arn"},
        Canned(describe_stream_summary={"StreamDescriptionSummary": summary}),
        max_request_bytes=10 * 1_048_576,
    )
    big.check()
    assert big.max_message_bytes == 10 * 1_048_576
    creating = {"StreamDescriptionSummary": {"StreamStatus": "CREATING"}}
    with pytest.raises(DestinationError, match="is CREATING; wait until it is ACTIVE"):
        KinesisPublisher("s", {"StreamName": "s"}, Canned(describe_stream_summary=creating)).check()


def test_eventbridge_entries_and_error_codes() -> None:
    answer = {
        "FailedEntryCount": 2,
        "Entries": [
            {"EventId": "e1"},
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"},
            {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
        ],
    }
    client = Canned(put_events=answer)
    bus = EventBridgePublisher("b", client, "my-bus")
    result = bus.send([message(1), message(2, op="delete", event_type="OrderCancelled"), message(3)])
    assert result.accepted == [1] and set(result.failed) == {2}
    assert result.rejected == {3: "MalformedDetail: Detail is malformed."}
    entries = client.calls[0][1]["Entries"]
    assert [(e["Source"], e["DetailType"], e["EventBusName"]) for e in entries[:2]] == [
        ("orders", "insert", "my-bus"),
        ("orders", "OrderCancelled", "my-bus"),
    ]
    assert json.loads(entries[0]["Detail"])["id"] == "id-1"
    fixed = EventBridgePublisher("b", Canned(), source="shop", detail_type="change")._entry(message(4))
    assert (fixed["Source"], fixed["DetailType"]) == ("shop", "change")


def test_eventbridge_counts_source_and_detail_type() -> None:
    bus = EventBridgePublisher("b", Canned(put_events={"Entries": []}), max_batch_bytes=1024)
    near = message(1, body=json.dumps({"pad": "x" * 1010}))
    assert near.size <= 1024
    result = bus.send([near])
    assert "with its source and detail type" in result.rejected[1]


def test_create_builds_each_destination_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    built = {
        kind: publishers.create(spec.Destination(kind, kind, options), 4)
        for kind, options in (
            ("sns", {"topic_arn": "arn:aws:sns:us-east-1:1:t"}),
            ("kinesis", {"stream_name": "s"}),
            ("eventbridge", {}),
        )
    }
    assert isinstance(built["sns"], SnsPublisher)
    assert isinstance(built["kinesis"], KinesisPublisher)
    assert isinstance(built["eventbridge"], EventBridgePublisher)
    assert built["eventbridge"].event_bus_name == "default"


# --- Spec -------------------------------------------------------------------------------------------

HEAD = "version: 1\ntables:\n  orders: {}\ndestinations:\n  default:\n"


def test_spec_accepts_each_destination_type_with_its_options() -> None:
    parsed = spec.parse(
        "version: 1\ntables:\n  orders: {destination: [t, s, b]}\ndestinations:\n"
        "  t: {type: sns, topic_arn: 'arn:aws:sns:us-east-1:1:t.fifo', max_batch_bytes: 1048576,\n"
        "      format: maxwell}\n"
        "  s: {type: kinesis, stream_arn: 'arn:aws:kinesis:us-east-1:1:stream/s',\n"
        "      max_record_bytes: 10485760}\n"
        "  b: {type: eventbridge, event_bus_name: shop, source: shop.orders, detail_type: change}\n"
    )
    assert parsed.destinations["t"] == spec.Destination(
        "t", "sns", {"topic_arn": "arn:aws:sns:us-east-1:1:t.fifo", "max_batch_bytes": 1048576}, "maxwell"
    )
    assert parsed.destinations["s"].options["max_record_bytes"] == 10485760
    assert parsed.destinations["b"].options == {
        "event_bus_name": "shop",
        "source": "shop.orders",
        "detail_type": "change",
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            "    type: sns\n", "destinations.default: 'topic_arn' is required", id="sns-without-topic"
        ),
        pytest.param(
            "    type: kinesis\n",
            "destinations.default: 'stream_name' is required",
            id="kinesis-without-stream",
        ),
        pytest.param(
            "    type: kinesis\n    stream_name: s\n    stream_arn: a\n",
            "destinations.default: give either stream_name or stream_arn, not both",
            id="kinesis-name-and-arn",
        ),
        pytest.param(
            "    type: kinesis\n    stream_name: s\n    max_request_bytes: 20000000\n",
            "destinations.default.max_request_bytes: 20000000 is greater than the maximum of 10485760",
            id="kinesis-request-too-large",
        ),
        pytest.param(
            "    type: eventbridge\n    queue_url: q\n",
            "destinations.default: unknown key 'queue_url' "
            "(expected one of: cloudevents, debezium, detail_type, event_bus_name, format, max_batch_bytes, "
            "maxwell, source, type)",
            id="eventbridge-unknown-key",
        ),
        pytest.param(
            "    type: sns\n    topic_arn: t\n    max_batch_bytes: 2000000\n",
            "destinations.default.max_batch_bytes: 2000000 is greater than the maximum of 1048576",
            id="sns-batch-too-large",
        ),
    ],
)
def test_spec_problems_with_destination_options(body: str, problem: str) -> None:
    with pytest.raises(SpecError) as error:
        spec.parse(HEAD + body)
    assert f"  {problem}" in str(error.value).splitlines()
