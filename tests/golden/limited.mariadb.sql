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

INSERT IGNORE INTO `outbox_events_captures` (`version`, `table_name`, `columns`, `key_columns`) VALUES ('db0c4724f3', 'docs', '[{"name":"id","type":"int","kind":"integer","nullable":false},{"name":"body","type":"text","kind":"string","nullable":true}]', '["id"]');

SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';

SET NAMES utf8mb4 COLLATE utf8mb4_bin;

DROP TRIGGER IF EXISTS `outbox_au_docs_46b42b4229`;

DELIMITER $$
CREATE TRIGGER `outbox_au_docs_46b42b4229` AFTER UPDATE ON `docs` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0')
  AND (NOT (OLD.`id` <=> NEW.`id` AND CAST(OLD.`body` AS BINARY) <=> CAST(NEW.`body` AS BINARY))) THEN
  IF 6 * IFNULL(LENGTH(NEW.`body`), 0) + 6 * IFNULL(LENGTH(OLD.`body`), 0) <= 64948 THEN
    INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
      'docs',
      CRC32(CONCAT_WS(CHAR(31), 'docs', NEW.`id`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "docs", "op": "update", "event_type": "update", "aggregate_type": "", "aggregate_id": ', NEW.`id`, ', "key": ', '{"id": ', NEW.`id`, '}',
    ', "before": ', CONCAT('{', CONCAT_WS(', ', IF(OLD.`id` <=> NEW.`id`, NULL, CONCAT('"id": ', OLD.`id`)), IF(CAST(OLD.`body` AS BINARY) <=> CAST(NEW.`body` AS BINARY), NULL, CONCAT('"body": ', IFNULL(JSON_QUOTE(CONVERT(OLD.`body` USING utf8mb4) COLLATE utf8mb4_bin), 'null')))), '}'), ', "after": ', '{"id": ', NEW.`id`, ', "body": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`body` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), '}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "db0c4724f3"', '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "docs", "op": "update", "event_type": "update", "aggregate_type": "", "aggregate_id": ', IFNULL(NEW.`id`, 'null'), ', "key": ', IFNULL(CONCAT('{"id": ', NEW.`id`, '}'), 'null'),
    ', "before": ', '{}', ', "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "db0c4724f3"', ', "omitted": {"reason": "capture_failed", "limit": 65536', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(NEW.`id`), 'null')), CONCAT('"body": ', IFNULL(LENGTH(NEW.`body`), 'null'))), '}'), ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(OLD.`id`), 'null')), CONCAT('"body": ', IFNULL(LENGTH(OLD.`body`), 'null'))), '}'), '}}')));
  ELSE BEGIN
    DECLARE outbox_room BIGINT DEFAULT 64948;
    DECLARE outbox_v1, outbox_v2 LONGBLOB;
    IF NEW.`body` IS NULL THEN SET outbox_v1 = 'null';
    ELSEIF LENGTH(NEW.`body`) DIV 1 + 2 <= outbox_room THEN
      SET outbox_v1 = JSON_QUOTE(CONVERT(NEW.`body` USING utf8mb4) COLLATE utf8mb4_bin);
      SET outbox_v1 = IF(LENGTH(outbox_v1) <= outbox_room, outbox_v1, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v1), 0);
    END IF;
    IF CAST(OLD.`body` AS BINARY) <=> CAST(NEW.`body` AS BINARY) THEN SET outbox_v2 = '';
    ELSEIF OLD.`body` IS NULL THEN SET outbox_v2 = 'null';
    ELSEIF LENGTH(OLD.`body`) DIV 1 + 2 <= outbox_room THEN
      SET outbox_v2 = JSON_QUOTE(CONVERT(OLD.`body` USING utf8mb4) COLLATE utf8mb4_bin);
      SET outbox_v2 = IF(LENGTH(outbox_v2) <= outbox_room, outbox_v2, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v2), 0);
    END IF;
    INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
      'docs',
      CRC32(CONCAT_WS(CHAR(31), 'docs', NEW.`id`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "docs", "op": "update", "event_type": "update", "aggregate_type": "", "aggregate_id": ', NEW.`id`, ', "key": ', '{"id": ', NEW.`id`, '}',
    ', "before": ', CONCAT('{', CONCAT_WS(', ', IF(OLD.`id` <=> NEW.`id`, NULL, CONCAT('"id": ', OLD.`id`)), CONCAT('"body": ', NULLIF(outbox_v2, ''))), '}'), ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', NEW.`id`), CONCAT('"body": ', NULLIF(outbox_v1, ''))), '}'),
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "db0c4724f3"', IF(outbox_v1 IS NULL OR outbox_v2 IS NULL, CONCAT(', "omitted": {"reason": "max_event_bytes", "limit": 65536', IF(outbox_v1 IS NULL, CONCAT(', "after": {', CONCAT_WS(', ', IF(outbox_v1 IS NULL, CONCAT('"body": ', LENGTH(NEW.`body`)), NULL)), '}'), ''), IF(outbox_v2 IS NULL, CONCAT(', "before": {', CONCAT_WS(', ', IF(outbox_v2 IS NULL, CONCAT('"body": ', LENGTH(OLD.`body`)), NULL)), '}'), ''), '}'), ''), '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "docs", "op": "update", "event_type": "update", "aggregate_type": "", "aggregate_id": ', IFNULL(NEW.`id`, 'null'), ', "key": ', IFNULL(CONCAT('{"id": ', NEW.`id`, '}'), 'null'),
    ', "before": ', '{}', ', "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "db0c4724f3"', ', "omitted": {"reason": "capture_failed", "limit": 65536', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(NEW.`id`), 'null')), CONCAT('"body": ', IFNULL(LENGTH(NEW.`body`), 'null'))), '}'), ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(OLD.`id`), 'null')), CONCAT('"body": ', IFNULL(LENGTH(OLD.`body`), 'null'))), '}'), '}}')));
  END; END IF;
END IF$$
DELIMITER ;
