CREATE TABLE IF NOT EXISTS `outbox events` (
  `seq` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `table_name` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `key_hash` INT UNSIGNED NOT NULL,
  `payload` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `created_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (`seq`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  COMMENT='outbox-triggers events: written by triggers, deleted by the relay once delivered';

CREATE TABLE IF NOT EXISTS `outbox events_dead_letters` (
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
  COMMENT='outbox-triggers dead letters: events no destination will ever accept, with the reason';

CREATE TABLE IF NOT EXISTS `outbox events_delivered` (
  `seq` BIGINT UNSIGNED NOT NULL,
  `table_name` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `key_hash` INT UNSIGNED NOT NULL,
  `payload` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `created_at` TIMESTAMP(6) NOT NULL,
  `delivered_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (`seq`),
  KEY `delivered_at` (`delivered_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  COMMENT='outbox-triggers delivered events, kept for audit and replay when relay.retention is keep';

DROP TRIGGER IF EXISTS `outbox_ai_order_x_y_6c45db077d`;

DELIMITER $$
CREATE TRIGGER `outbox_ai_order_x_y_6c45db077d` AFTER INSERT ON `order ``x`` 'y'` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
INSERT INTO `outbox events` (`table_name`, `key_hash`, `payload`) VALUES (
  'order `x` ''y''',
  CRC32(CONCAT_WS(CHAR(31), 'order `x` ''y''', NEW.`key`)),
  JSON_OBJECT(
    'id', UUID(),
    'table', 'order `x` ''y''',
    'op', 'insert',
    'event_type', 'insert',
    'aggregate_type', '',
    'aggregate_id', NEW.`key`,
    'key', JSON_OBJECT('key', NEW.`key`),
    'before', NULL,
    'after', JSON_OBJECT('key', NEW.`key`, 'grüße', NEW.`grüße`, CONVERT(X'6261636b5c736c617368' USING utf8mb4), NEW.`back\slash`),
    'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'),
    'version', '74390b8731'
  )
);
END IF$$
DELIMITER ;

DROP TRIGGER IF EXISTS `outbox_ad_order_x_y_6c45db077d`;

DELIMITER $$
CREATE TRIGGER `outbox_ad_order_x_y_6c45db077d` AFTER DELETE ON `order ``x`` 'y'` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
INSERT INTO `outbox events` (`table_name`, `key_hash`, `payload`) VALUES (
  'order `x` ''y''',
  CRC32(CONCAT_WS(CHAR(31), 'order `x` ''y''', OLD.`key`)),
  JSON_OBJECT(
    'id', UUID(),
    'table', 'order `x` ''y''',
    'op', 'delete',
    'event_type', 'delete',
    'aggregate_type', '',
    'aggregate_id', OLD.`key`,
    'key', JSON_OBJECT('key', OLD.`key`),
    'before', JSON_OBJECT('key', OLD.`key`, 'grüße', OLD.`grüße`, CONVERT(X'6261636b5c736c617368' USING utf8mb4), OLD.`back\slash`),
    'after', NULL,
    'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'),
    'version', '74390b8731'
  )
);
END IF$$
DELIMITER ;
