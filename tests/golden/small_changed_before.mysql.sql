CREATE TABLE IF NOT EXISTS `outbox_events` (
  `seq` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `table_name` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `key_hash` INT UNSIGNED NOT NULL,
  `payload` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `created_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (`seq`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  COMMENT='outbox-triggers events: written by triggers, deleted by the relay once delivered';

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
  COMMENT='outbox-triggers dead letters: events no destination will ever accept, with the reason';

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
  COMMENT='outbox-triggers delivered events, kept for audit and replay when relay.retention is keep';

CREATE TABLE IF NOT EXISTS `outbox_events_captures` (
  `version` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `table_name` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `columns` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `key_columns` TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `recorded_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (`version`, `table_name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  COMMENT='outbox-triggers capture versions: the column types each version of the triggers wrote';

INSERT IGNORE INTO `outbox_events_captures` (`version`, `table_name`, `columns`, `key_columns`) VALUES ('d04ea57b07', 'stock', '[{"name":"id","type":"int(11)","kind":"integer","nullable":false},{"name":"qty","type":"int(10) unsigned zerofill","kind":"integer","nullable":true},{"name":"code","type":"char(3)","kind":"string","nullable":true},{"name":"seen","type":"timestamp","kind":"timestamp","nullable":false}]', '["id"]');

SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';

SET NAMES utf8mb4 COLLATE utf8mb4_bin;

DROP TRIGGER IF EXISTS `outbox_au_stock_08c4242b5f`;

DELIMITER $$
CREATE TRIGGER `outbox_au_stock_08c4242b5f` AFTER UPDATE ON `stock` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0')
  AND (NOT (OLD.`id` <=> NEW.`id` AND OLD.`qty` <=> NEW.`qty` AND CAST(OLD.`code` AS BINARY) <=> CAST(NEW.`code` AS BINARY))) THEN
  INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
      'stock',
      CRC32(CONCAT_WS(CHAR(31), 'stock', NEW.`id`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "stock", "op": "update", "event_type": "StockChanged", "aggregate_type": "Stock", "aggregate_id": ', NEW.`id`, ', "key": ', '{"id": ', NEW.`id`, '}',
    ', "before": ', CONCAT('{', CONCAT_WS(', ', IF(OLD.`id` <=> NEW.`id`, NULL, CONCAT('"id": ', OLD.`id`)), IF(OLD.`qty` <=> NEW.`qty`, NULL, CONCAT('"qty": ', IFNULL((OLD.`qty` + 0), 'null'))), IF(CAST(OLD.`code` AS BINARY) <=> CAST(NEW.`code` AS BINARY), NULL, CONCAT('"code": ', IFNULL(JSON_QUOTE(CONVERT(OLD.`code` USING utf8mb4) COLLATE utf8mb4_bin), 'null'))), IF(OLD.`seen` <=> NEW.`seen`, NULL, CONCAT('"seen": ', IFNULL(IF(OLD.`seen` = 0, 'null', CONCAT('"', DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(OLD.`seen`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s'), 'Z"')), 'null')))), '}'), ', "after": ', '{"id": ', NEW.`id`, ', "qty": ', IFNULL((NEW.`qty` + 0), 'null'), ', "code": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`code` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), ', "seen": ', IFNULL(IF(NEW.`seen` = 0, 'null', CONCAT('"', DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(NEW.`seen`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s'), 'Z"')), 'null'), '}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "d04ea57b07"', '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "stock", "op": "update", "event_type": "StockChanged", "aggregate_type": "Stock", "aggregate_id": ', IFNULL(NEW.`id`, 'null'), ', "key": ', IFNULL(CONCAT('{"id": ', NEW.`id`, '}'), 'null'),
    ', "before": ', '{}', ', "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "d04ea57b07"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(NEW.`id`), 'null')), CONCAT('"qty": ', IFNULL(LENGTH(NEW.`qty`), 'null')), CONCAT('"code": ', IFNULL(LENGTH(NEW.`code`), 'null')), CONCAT('"seen": ', IFNULL(LENGTH(NEW.`seen`), 'null'))), '}'), ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(OLD.`id`), 'null')), CONCAT('"qty": ', IFNULL(LENGTH(OLD.`qty`), 'null')), CONCAT('"code": ', IFNULL(LENGTH(OLD.`code`), 'null')), CONCAT('"seen": ', IFNULL(LENGTH(OLD.`seen`), 'null'))), '}'), '}}')));
END IF$$
DELIMITER ;
