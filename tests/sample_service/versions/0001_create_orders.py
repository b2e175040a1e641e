"""create orders, with outbox triggers

Revision ID: 0001
Revises:
Create Date: 2026-11-23 12:00:00

The service creates `orders` and, in the same revision, the outbox events table and the triggers
that capture `orders` (op calls pasted from `outbox-triggers render --alembic`).
"""

# ruff: noqa: E501  (frozen SQL, pasted from `outbox-triggers render --alembic`)
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(20), nullable=False, server_default="new"),
        sa.Column("total", sa.Numeric(10, 2), nullable=False),
        sa.Column("secret", sa.String(50), nullable=True),
    )
    op.create_outbox_events_table(
        "outbox_events",
        """\
CREATE TABLE IF NOT EXISTS `outbox_events` (
  `seq` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `table_name` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `key_hash` INT UNSIGNED NOT NULL,
  `payload` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `created_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (`seq`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  COMMENT='outbox-triggers events: written by triggers, deleted by the relay once delivered'""",
    )
    op.create_outbox_support_table(
        "outbox_events_dead_letters",
        """\
CREATE TABLE IF NOT EXISTS `outbox_events_dead_letters` (
  `seq` BIGINT UNSIGNED NOT NULL,
  `table_name` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `key_hash` INT UNSIGNED NOT NULL,
  `payload` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `created_at` TIMESTAMP(6) NOT NULL,
  `failed_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  `destination` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `error` TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  PRIMARY KEY (`seq`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  COMMENT='outbox-triggers dead letters: events no destination will ever accept, with the reason'""",
    )
    op.create_outbox_support_table(
        "outbox_events_delivered",
        """\
CREATE TABLE IF NOT EXISTS `outbox_events_delivered` (
  `seq` BIGINT UNSIGNED NOT NULL,
  `table_name` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `key_hash` INT UNSIGNED NOT NULL,
  `payload` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `created_at` TIMESTAMP(6) NOT NULL,
  `delivered_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (`seq`),
  KEY `delivered_at` (`delivered_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  COMMENT='outbox-triggers delivered events, kept for audit and replay when relay.retention is keep'""",
    )
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
        },
    )


def downgrade() -> None:
    op.drop_outbox_triggers(
        "orders",
        ["outbox_ai_orders_1c168adb00", "outbox_au_orders_1c168adb00", "outbox_ad_orders_1c168adb00"],
    )
    op.drop_outbox_support_table("outbox_events_delivered")
    op.drop_outbox_support_table("outbox_events_dead_letters")
    op.drop_outbox_events_table("outbox_events")
    op.drop_table("orders")
