"""add orders.discount, refresh outbox triggers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:00:00

The service adds `orders.discount` and refreshes the outbox triggers in the same revision, so events
carry the new column from the moment it exists. The trigger swap runs under LOCK TABLES, so no
committed write goes uncaptured. Downgrading puts the previous triggers back before dropping the
column: triggers that read a dropped column would fail every write.
"""

# ruff: noqa: E501  (frozen SQL, pasted from `outbox-triggers render --alembic`)
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("discount", sa.Numeric(10, 2), nullable=True))
    op.install_outbox_triggers(
        "orders",
        {
            "outbox_ai_orders_1c168adb00": """\
CREATE TRIGGER `outbox_ai_orders_1c168adb00` AFTER INSERT ON `orders` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
  'orders',
  CRC32(CONCAT_WS(CHAR(31), 'orders', NEW.`id`)),
  JSON_OBJECT(
    'id', UUID(),
    'table', 'orders',
    'op', 'insert',
    'event_type', 'insert',
    'aggregate_type', 'orders',
    'aggregate_id', NEW.`id`,
    'key', JSON_OBJECT('id', NEW.`id`),
    'before', NULL,
    'after', JSON_OBJECT('id', NEW.`id`, 'status', NEW.`status`, 'total', CAST(NEW.`total` AS CHAR), 'discount', CAST(NEW.`discount` AS CHAR)),
    'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'),
    'version', '962b2807ff'
  )
);
END IF""",
            "outbox_au_orders_1c168adb00": """\
CREATE TRIGGER `outbox_au_orders_1c168adb00` AFTER UPDATE ON `orders` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0')
  AND (NOT (OLD.`id` <=> NEW.`id` AND CAST(OLD.`status` AS BINARY) <=> CAST(NEW.`status` AS BINARY) AND OLD.`total` <=> NEW.`total` AND OLD.`discount` <=> NEW.`discount`)) THEN
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
  'orders',
  CRC32(CONCAT_WS(CHAR(31), 'orders', NEW.`id`)),
  JSON_OBJECT(
    'id', UUID(),
    'table', 'orders',
    'op', 'update',
    'event_type', 'update',
    'aggregate_type', 'orders',
    'aggregate_id', NEW.`id`,
    'key', JSON_OBJECT('id', NEW.`id`),
    'before', JSON_OBJECT('id', OLD.`id`, 'status', OLD.`status`, 'total', CAST(OLD.`total` AS CHAR), 'discount', CAST(OLD.`discount` AS CHAR)),
    'after', JSON_OBJECT('id', NEW.`id`, 'status', NEW.`status`, 'total', CAST(NEW.`total` AS CHAR), 'discount', CAST(NEW.`discount` AS CHAR)),
    'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'),
    'version', '962b2807ff'
  )
);
END IF""",
            "outbox_ad_orders_1c168adb00": """\
CREATE TRIGGER `outbox_ad_orders_1c168adb00` AFTER DELETE ON `orders` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
  'orders',
  CRC32(CONCAT_WS(CHAR(31), 'orders', OLD.`id`)),
  JSON_OBJECT(
    'id', UUID(),
    'table', 'orders',
    'op', 'delete',
    'event_type', 'delete',
    'aggregate_type', 'orders',
    'aggregate_id', OLD.`id`,
    'key', JSON_OBJECT('id', OLD.`id`),
    'before', JSON_OBJECT('id', OLD.`id`, 'status', OLD.`status`, 'total', CAST(OLD.`total` AS CHAR), 'discount', CAST(OLD.`discount` AS CHAR)),
    'after', NULL,
    'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'),
    'version', '962b2807ff'
  )
);
END IF""",
        },
    )


def downgrade() -> None:
    op.install_outbox_triggers(
        "orders",
        {
            "outbox_ad_orders_1c168adb00": """\
CREATE TRIGGER `outbox_ad_orders_1c168adb00` AFTER DELETE ON `orders` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
  'orders',
  CRC32(CONCAT_WS(CHAR(31), 'orders', OLD.`id`)),
  JSON_OBJECT(
    'id', UUID(),
    'table', 'orders',
    'op', 'delete',
    'event_type', 'delete',
    'aggregate_type', 'orders',
    'aggregate_id', OLD.`id`,
    'key', JSON_OBJECT('id', OLD.`id`),
    'before', JSON_OBJECT('id', OLD.`id`, 'status', OLD.`status`, 'total', CAST(OLD.`total` AS CHAR)),
    'after', NULL,
    'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'),
    'version', 'cfd95a13cf'
  )
);
END IF""",
            "outbox_ai_orders_1c168adb00": """\
CREATE TRIGGER `outbox_ai_orders_1c168adb00` AFTER INSERT ON `orders` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
  'orders',
  CRC32(CONCAT_WS(CHAR(31), 'orders', NEW.`id`)),
  JSON_OBJECT(
    'id', UUID(),
    'table', 'orders',
    'op', 'insert',
    'event_type', 'insert',
    'aggregate_type', 'orders',
    'aggregate_id', NEW.`id`,
    'key', JSON_OBJECT('id', NEW.`id`),
    'before', NULL,
    'after', JSON_OBJECT('id', NEW.`id`, 'status', NEW.`status`, 'total', CAST(NEW.`total` AS CHAR)),
    'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'),
    'version', 'cfd95a13cf'
  )
);
END IF""",
            "outbox_au_orders_1c168adb00": """\
CREATE TRIGGER `outbox_au_orders_1c168adb00` AFTER UPDATE ON `orders` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0')
  AND (NOT (OLD.`id` <=> NEW.`id` AND CAST(OLD.`status` AS BINARY) <=> CAST(NEW.`status` AS BINARY) AND OLD.`total` <=> NEW.`total`)) THEN
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
  'orders',
  CRC32(CONCAT_WS(CHAR(31), 'orders', NEW.`id`)),
  JSON_OBJECT(
    'id', UUID(),
    'table', 'orders',
    'op', 'update',
    'event_type', 'update',
    'aggregate_type', 'orders',
    'aggregate_id', NEW.`id`,
    'key', JSON_OBJECT('id', NEW.`id`),
    'before', JSON_OBJECT('id', OLD.`id`, 'status', OLD.`status`, 'total', CAST(OLD.`total` AS CHAR)),
    'after', JSON_OBJECT('id', NEW.`id`, 'status', NEW.`status`, 'total', CAST(NEW.`total` AS CHAR)),
    'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'),
    'version', 'cfd95a13cf'
  )
);
END IF""",
        },
    )
    op.drop_column("orders", "discount")
