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

CREATE TABLE IF NOT EXISTS `outbox events_captures` (
  `version` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `table_name` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `columns` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `key_columns` TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `recorded_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (`version`, `table_name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  COMMENT='outbox-triggers capture versions: the column types each version of the triggers wrote';

INSERT IGNORE INTO `outbox events_captures` (`version`, `table_name`, `columns`, `key_columns`) VALUES ('761ef4fe70', 'order `x` ''y''', CONVERT(X'5b7b226e616d65223a226b6579222c2274797065223a22222c226b696e64223a22696e7465676572222c226e756c6c61626c65223a747275657d2c7b226e616d65223a226772c3bcc39f65222c2274797065223a22222c226b696e64223a22737472696e67222c226e756c6c61626c65223a747275657d2c7b226e616d65223a226261636b5c5c736c617368222c2274797065223a22222c226b696e64223a22737472696e67222c226e756c6c61626c65223a747275657d5d' USING utf8mb4), '["key"]');

SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';

SET NAMES utf8mb4 COLLATE utf8mb4_bin;

DROP TRIGGER IF EXISTS `outbox_ai_order_x_y_6c45db077d`;

DELIMITER $$
CREATE TRIGGER `outbox_ai_order_x_y_6c45db077d` AFTER INSERT ON `order ``x`` 'y'` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
  IF 6 * IFNULL(LENGTH(NEW.`grüße`), 0) + 6 * IFNULL(LENGTH(NEW.`back\slash`), 0) <= 1043912 THEN
    INSERT INTO `outbox events` (`table_name`, `key_hash`, `payload`) VALUES (
      'order `x` ''y''',
      CRC32(CONCAT_WS(CHAR(31), 'order `x` ''y''', NEW.`key`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "order `x` ''y''", "op": "insert", "event_type": "insert", "aggregate_type": "", "aggregate_id": ', IFNULL(NEW.`key`, 'null'), ', "key": ', '{"key": ', IFNULL(NEW.`key`, 'null'), '}',
    ', "before": null, "after": ', '{"key": ', IFNULL(NEW.`key`, 'null'), ', "grüße": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`grüße` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), CONVERT(X'2c20226261636b5c5c736c617368223a20' USING utf8mb4), IFNULL(JSON_QUOTE(CONVERT(NEW.`back\slash` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), '}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "761ef4fe70"', '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "order `x` ''y''", "op": "insert", "event_type": "insert", "aggregate_type": "", "aggregate_id": ', IFNULL(IFNULL(NEW.`key`, 'null'), 'null'), ', "key": ', IFNULL(CONCAT('{"key": ', IFNULL(NEW.`key`, 'null'), '}'), 'null'),
    ', "before": null, "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "761ef4fe70"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"key": ', IFNULL(LENGTH(NEW.`key`), 'null')), CONCAT('"grüße": ', IFNULL(LENGTH(NEW.`grüße`), 'null')), CONCAT(CONVERT(X'226261636b5c5c736c617368223a20' USING utf8mb4), IFNULL(LENGTH(NEW.`back\slash`), 'null'))), '}'), '}}')));
  ELSE BEGIN
    DECLARE outbox_room BIGINT DEFAULT 1043912;
    DECLARE outbox_v1, outbox_v2 LONGBLOB;
    IF NEW.`grüße` IS NULL THEN SET outbox_v1 = 'null';
    ELSEIF LENGTH(NEW.`grüße`) DIV 1 + 2 <= outbox_room THEN
      SET outbox_v1 = JSON_QUOTE(CONVERT(NEW.`grüße` USING utf8mb4) COLLATE utf8mb4_bin);
      SET outbox_v1 = IF(LENGTH(outbox_v1) <= outbox_room, outbox_v1, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v1), 0);
    END IF;
    IF NEW.`back\slash` IS NULL THEN SET outbox_v2 = 'null';
    ELSEIF LENGTH(NEW.`back\slash`) DIV 1 + 2 <= outbox_room THEN
      SET outbox_v2 = JSON_QUOTE(CONVERT(NEW.`back\slash` USING utf8mb4) COLLATE utf8mb4_bin);
      SET outbox_v2 = IF(LENGTH(outbox_v2) <= outbox_room, outbox_v2, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v2), 0);
    END IF;
    INSERT INTO `outbox events` (`table_name`, `key_hash`, `payload`) VALUES (
      'order `x` ''y''',
      CRC32(CONCAT_WS(CHAR(31), 'order `x` ''y''', NEW.`key`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "order `x` ''y''", "op": "insert", "event_type": "insert", "aggregate_type": "", "aggregate_id": ', IFNULL(NEW.`key`, 'null'), ', "key": ', '{"key": ', IFNULL(NEW.`key`, 'null'), '}',
    ', "before": null, "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"key": ', IFNULL(NEW.`key`, 'null')), CONCAT('"grüße": ', NULLIF(outbox_v1, '')), CONCAT(CONVERT(X'226261636b5c5c736c617368223a20' USING utf8mb4), NULLIF(outbox_v2, ''))), '}'),
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "761ef4fe70"', IF(outbox_v1 IS NULL OR outbox_v2 IS NULL, CONCAT(', "omitted": {"reason": "max_event_bytes", "limit": 1044480', IF(outbox_v1 IS NULL OR outbox_v2 IS NULL, CONCAT(', "after": {', CONCAT_WS(', ', IF(outbox_v1 IS NULL, CONCAT('"grüße": ', LENGTH(NEW.`grüße`)), NULL), IF(outbox_v2 IS NULL, CONCAT(CONVERT(X'226261636b5c5c736c617368223a20' USING utf8mb4), LENGTH(NEW.`back\slash`)), NULL)), '}'), ''), '}'), ''), '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "order `x` ''y''", "op": "insert", "event_type": "insert", "aggregate_type": "", "aggregate_id": ', IFNULL(IFNULL(NEW.`key`, 'null'), 'null'), ', "key": ', IFNULL(CONCAT('{"key": ', IFNULL(NEW.`key`, 'null'), '}'), 'null'),
    ', "before": null, "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "761ef4fe70"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"key": ', IFNULL(LENGTH(NEW.`key`), 'null')), CONCAT('"grüße": ', IFNULL(LENGTH(NEW.`grüße`), 'null')), CONCAT(CONVERT(X'226261636b5c5c736c617368223a20' USING utf8mb4), IFNULL(LENGTH(NEW.`back\slash`), 'null'))), '}'), '}}')));
  END; END IF;
END IF$$
DELIMITER ;

DROP TRIGGER IF EXISTS `outbox_ad_order_x_y_6c45db077d`;

DELIMITER $$
CREATE TRIGGER `outbox_ad_order_x_y_6c45db077d` AFTER DELETE ON `order ``x`` 'y'` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
  IF 6 * IFNULL(LENGTH(OLD.`grüße`), 0) + 6 * IFNULL(LENGTH(OLD.`back\slash`), 0) <= 1043912 THEN
    INSERT INTO `outbox events` (`table_name`, `key_hash`, `payload`) VALUES (
      'order `x` ''y''',
      CRC32(CONCAT_WS(CHAR(31), 'order `x` ''y''', OLD.`key`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "order `x` ''y''", "op": "delete", "event_type": "delete", "aggregate_type": "", "aggregate_id": ', IFNULL(OLD.`key`, 'null'), ', "key": ', '{"key": ', IFNULL(OLD.`key`, 'null'), '}',
    ', "before": ', '{"key": ', IFNULL(OLD.`key`, 'null'), ', "grüße": ', IFNULL(JSON_QUOTE(CONVERT(OLD.`grüße` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), CONVERT(X'2c20226261636b5c5c736c617368223a20' USING utf8mb4), IFNULL(JSON_QUOTE(CONVERT(OLD.`back\slash` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), '}', ', "after": null',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "761ef4fe70"', '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "order `x` ''y''", "op": "delete", "event_type": "delete", "aggregate_type": "", "aggregate_id": ', IFNULL(IFNULL(OLD.`key`, 'null'), 'null'), ', "key": ', IFNULL(CONCAT('{"key": ', IFNULL(OLD.`key`, 'null'), '}'), 'null'),
    ', "before": ', '{}', ', "after": null',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "761ef4fe70"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"key": ', IFNULL(LENGTH(OLD.`key`), 'null')), CONCAT('"grüße": ', IFNULL(LENGTH(OLD.`grüße`), 'null')), CONCAT(CONVERT(X'226261636b5c5c736c617368223a20' USING utf8mb4), IFNULL(LENGTH(OLD.`back\slash`), 'null'))), '}'), '}}')));
  ELSE BEGIN
    DECLARE outbox_room BIGINT DEFAULT 1043912;
    DECLARE outbox_v1, outbox_v2 LONGBLOB;
    IF OLD.`grüße` IS NULL THEN SET outbox_v1 = 'null';
    ELSEIF LENGTH(OLD.`grüße`) DIV 1 + 2 <= outbox_room THEN
      SET outbox_v1 = JSON_QUOTE(CONVERT(OLD.`grüße` USING utf8mb4) COLLATE utf8mb4_bin);
      SET outbox_v1 = IF(LENGTH(outbox_v1) <= outbox_room, outbox_v1, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v1), 0);
    END IF;
    IF OLD.`back\slash` IS NULL THEN SET outbox_v2 = 'null';
    ELSEIF LENGTH(OLD.`back\slash`) DIV 1 + 2 <= outbox_room THEN
      SET outbox_v2 = JSON_QUOTE(CONVERT(OLD.`back\slash` USING utf8mb4) COLLATE utf8mb4_bin);
      SET outbox_v2 = IF(LENGTH(outbox_v2) <= outbox_room, outbox_v2, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v2), 0);
    END IF;
    INSERT INTO `outbox events` (`table_name`, `key_hash`, `payload`) VALUES (
      'order `x` ''y''',
      CRC32(CONCAT_WS(CHAR(31), 'order `x` ''y''', OLD.`key`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "order `x` ''y''", "op": "delete", "event_type": "delete", "aggregate_type": "", "aggregate_id": ', IFNULL(OLD.`key`, 'null'), ', "key": ', '{"key": ', IFNULL(OLD.`key`, 'null'), '}',
    ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"key": ', IFNULL(OLD.`key`, 'null')), CONCAT('"grüße": ', NULLIF(outbox_v1, '')), CONCAT(CONVERT(X'226261636b5c5c736c617368223a20' USING utf8mb4), NULLIF(outbox_v2, ''))), '}'), ', "after": null',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "761ef4fe70"', IF(outbox_v1 IS NULL OR outbox_v2 IS NULL, CONCAT(', "omitted": {"reason": "max_event_bytes", "limit": 1044480', IF(outbox_v1 IS NULL OR outbox_v2 IS NULL, CONCAT(', "before": {', CONCAT_WS(', ', IF(outbox_v1 IS NULL, CONCAT('"grüße": ', LENGTH(OLD.`grüße`)), NULL), IF(outbox_v2 IS NULL, CONCAT(CONVERT(X'226261636b5c5c736c617368223a20' USING utf8mb4), LENGTH(OLD.`back\slash`)), NULL)), '}'), ''), '}'), ''), '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "order `x` ''y''", "op": "delete", "event_type": "delete", "aggregate_type": "", "aggregate_id": ', IFNULL(IFNULL(OLD.`key`, 'null'), 'null'), ', "key": ', IFNULL(CONCAT('{"key": ', IFNULL(OLD.`key`, 'null'), '}'), 'null'),
    ', "before": ', '{}', ', "after": null',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "761ef4fe70"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"key": ', IFNULL(LENGTH(OLD.`key`), 'null')), CONCAT('"grüße": ', IFNULL(LENGTH(OLD.`grüße`), 'null')), CONCAT(CONVERT(X'226261636b5c5c736c617368223a20' USING utf8mb4), IFNULL(LENGTH(OLD.`back\slash`), 'null'))), '}'), '}}')));
  END; END IF;
END IF$$
DELIMITER ;
