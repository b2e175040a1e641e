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

INSERT IGNORE INTO `outbox_events_captures` (`version`, `table_name`, `columns`, `key_columns`) VALUES ('abb13f9811', 'items', CONVERT(X'5b7b226e616d65223a226964222c2274797065223a22626967696e742832302920756e7369676e6564222c226b696e64223a22696e7465676572222c226e756c6c61626c65223a66616c73657d2c7b226e616d65223a22616d6f756e74222c2274797065223a22646563696d616c2831322c3229222c226b696e64223a22646563696d616c222c226e756c6c61626c65223a747275657d2c7b226e616d65223a22726174696f222c2274797065223a22646f75626c65222c226b696e64223a22666c6f6174222c226e756c6c61626c65223a747275657d2c7b226e616d65223a22666c616773222c2274797065223a22626974283829222c226b696e64223a22626974222c226e756c6c61626c65223a747275657d2c7b226e616d65223a226e616d65222c2274797065223a227661726368617228353029222c226b696e64223a22737472696e67222c226e756c6c61626c65223a747275657d2c7b226e616d65223a22626c6f62222c2274797065223a22626c6f62222c226b696e64223a2262696e617279222c226e756c6c61626c65223a747275657d2c7b226e616d65223a227374617465222c2274797065223a22656e756d282761272c27622729222c226b696e64223a22656e756d222c226e756c6c61626c65223a747275657d2c7b226e616d65223a2274616773222c2274797065223a22736574282778272c277927277a272c27775c5c5c22762729222c226b696e64223a22736574222c226e756c6c61626c65223a747275657d2c7b226e616d65223a22626f726e222c2274797065223a2264617465222c226b696e64223a2264617465222c226e756c6c61626c65223a747275657d2c7b226e616d65223a226174222c2274797065223a226461746574696d65283329222c226b696e64223a226461746574696d65222c226e756c6c61626c65223a747275657d2c7b226e616d65223a227374616d70222c2274797065223a2274696d657374616d70283629222c226b696e64223a2274696d657374616d70222c226e756c6c61626c65223a747275657d2c7b226e616d65223a22647572222c2274797065223a2274696d65222c226b696e64223a2274696d65222c226e756c6c61626c65223a747275657d2c7b226e616d65223a227972222c2274797065223a2279656172283429222c226b696e64223a2279656172222c226e756c6c61626c65223a747275657d2c7b226e616d65223a22646f63222c2274797065223a226a736f6e222c226b696e64223a226a736f6e222c226e756c6c61626c65223a747275657d2c7b226e616d65223a2267656f222c2274797065223a22706f696e74222c226b696e64223a227370617469616c222c226e756c6c61626c65223a747275657d5d' USING utf8mb4), '["id"]');

SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';

SET NAMES utf8mb4 COLLATE utf8mb4_bin;

DROP TRIGGER IF EXISTS `outbox_ai_items_5f3c4f8580`;

DELIMITER $$
CREATE TRIGGER `outbox_ai_items_5f3c4f8580` AFTER INSERT ON `items` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
  IF 2 * IFNULL(LENGTH(NEW.`blob`), 0) + 6 * IFNULL(LENGTH(NEW.`doc`), 0) + 6 * IFNULL(LENGTH(NEW.`geo`), 0) <= 1042915 AND IFNULL(LENGTH(NEW.`blob`), 0) <= 912 THEN
    INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
      'items',
      CRC32(CONCAT_WS(CHAR(31), 'items', NEW.`id`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "insert", "event_type": "insert", "aggregate_type": "", "aggregate_id": ', NEW.`id`, ', "key": ', '{"id": ', NEW.`id`, '}',
    ', "before": null, "after": ', '{"id": ', NEW.`id`, ', "amount": ', IFNULL(CONCAT('"', NEW.`amount`, '"'), 'null'), ', "ratio": ', IFNULL(NEW.`ratio`, 'null'), ', "flags": ', IFNULL(CAST(NEW.`flags` AS UNSIGNED), 'null'), ', "name": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`name` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), ', "blob": ', IFNULL(CONCAT('"', REPLACE(TO_BASE64(NEW.`blob`), CHAR(10 USING utf8mb4), ''), '"'), 'null'), ', "state": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`state` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), ', "tags": ', IFNULL(IF(NEW.`tags` = '', '[]', CONCAT('[', REPLACE(JSON_QUOTE(CONVERT(NEW.`tags` USING utf8mb4) COLLATE utf8mb4_bin), ',', '", "'), ']')), 'null'), ', "born": ', IFNULL(IF(MONTH(NEW.`born`) = 0 OR DAYOFMONTH(NEW.`born`) = 0, 'null', CONCAT('"', DATE_FORMAT(NEW.`born`, '%Y-%m-%d'), '"')), 'null'), ', "at": ', IFNULL(IF(MONTH(NEW.`at`) = 0 OR DAYOFMONTH(NEW.`at`) = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(NEW.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23), '"')), 'null'), ', "stamp": ', IFNULL(IF(NEW.`stamp` = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(NEW.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z"')), 'null'), ', "dur": ', IFNULL(CONCAT('"', NEW.`dur`, '"'), 'null'), ', "yr": ', IFNULL((NEW.`yr` + 0), 'null'), ', "doc": ', IFNULL(CONVERT(NEW.`doc` USING utf8mb4) COLLATE utf8mb4_bin, 'null'), ', "geo": ', IFNULL(CONVERT(ST_AsGeoJSON(NEW.`geo`) USING utf8mb4) COLLATE utf8mb4_bin, 'null'), '}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "insert", "event_type": "insert", "aggregate_type": "", "aggregate_id": ', IFNULL(NEW.`id`, 'null'), ', "key": ', IFNULL(CONCAT('{"id": ', NEW.`id`, '}'), 'null'),
    ', "before": null, "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(NEW.`id`), 'null')), CONCAT('"amount": ', IFNULL(LENGTH(NEW.`amount`), 'null')), CONCAT('"ratio": ', IFNULL(LENGTH(NEW.`ratio`), 'null')), CONCAT('"flags": ', IFNULL(LENGTH(NEW.`flags`), 'null')), CONCAT('"name": ', IFNULL(LENGTH(NEW.`name`), 'null')), CONCAT('"blob": ', IFNULL(LENGTH(NEW.`blob`), 'null')), CONCAT('"state": ', IFNULL(LENGTH(NEW.`state`), 'null')), CONCAT('"tags": ', IFNULL(LENGTH(NEW.`tags`), 'null')), CONCAT('"born": ', IFNULL(LENGTH(NEW.`born`), 'null')), CONCAT('"at": ', IFNULL(LENGTH(NEW.`at`), 'null')), CONCAT('"stamp": ', IFNULL(LENGTH(NEW.`stamp`), 'null')), CONCAT('"dur": ', IFNULL(LENGTH(NEW.`dur`), 'null')), CONCAT('"yr": ', IFNULL(LENGTH(NEW.`yr`), 'null')), CONCAT('"doc": ', IFNULL(LENGTH(NEW.`doc`), 'null')), CONCAT('"geo": ', IFNULL(LENGTH(NEW.`geo`), 'null'))), '}'), '}}')));
  ELSE BEGIN
    DECLARE outbox_room BIGINT DEFAULT 1042915;
    DECLARE outbox_i BIGINT;
    DECLARE outbox_chunk LONGBLOB;
    DECLARE outbox_v1, outbox_v2, outbox_v3 LONGBLOB;
    IF NEW.`blob` IS NULL THEN SET outbox_v1 = 'null';
    ELSEIF 4 * CEILING(LENGTH(NEW.`blob`) / 3) + 2 <= outbox_room THEN
      SET outbox_i = 1, outbox_chunk = '', outbox_v1 = '"';
      WHILE outbox_i <= LENGTH(NEW.`blob`) DO
        SET outbox_chunk = CONCAT(outbox_chunk, REPLACE(TO_BASE64(SUBSTRING(NEW.`blob`, outbox_i, 912)), CHAR(10 USING utf8mb4), '')), outbox_i = outbox_i + 912;
        IF LENGTH(outbox_chunk) >= 65536 THEN SET outbox_v1 = CONCAT(outbox_v1, outbox_chunk), outbox_chunk = ''; END IF;
      END WHILE;
      SET outbox_v1 = CONCAT(outbox_v1, outbox_chunk, '"');
      SET outbox_v1 = IF(LENGTH(outbox_v1) <= outbox_room, outbox_v1, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v1), 0);
    END IF;
    IF NEW.`doc` IS NULL THEN SET outbox_v2 = 'null';
    ELSEIF 0 <= outbox_room THEN
      SET outbox_v2 = CONVERT(NEW.`doc` USING utf8mb4) COLLATE utf8mb4_bin;
      SET outbox_v2 = IF(LENGTH(outbox_v2) <= outbox_room, outbox_v2, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v2), 0);
    END IF;
    IF NEW.`geo` IS NULL THEN SET outbox_v3 = 'null';
    ELSEIF 0 <= outbox_room THEN
      SET outbox_v3 = CONVERT(ST_AsGeoJSON(NEW.`geo`) USING utf8mb4) COLLATE utf8mb4_bin;
      SET outbox_v3 = IF(LENGTH(outbox_v3) <= outbox_room, outbox_v3, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v3), 0);
    END IF;
    INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
      'items',
      CRC32(CONCAT_WS(CHAR(31), 'items', NEW.`id`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "insert", "event_type": "insert", "aggregate_type": "", "aggregate_id": ', NEW.`id`, ', "key": ', '{"id": ', NEW.`id`, '}',
    ', "before": null, "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', NEW.`id`), CONCAT('"amount": ', IFNULL(CONCAT('"', NEW.`amount`, '"'), 'null')), CONCAT('"ratio": ', IFNULL(NEW.`ratio`, 'null')), CONCAT('"flags": ', IFNULL(CAST(NEW.`flags` AS UNSIGNED), 'null')), CONCAT('"name": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`name` USING utf8mb4) COLLATE utf8mb4_bin), 'null')), CONCAT('"blob": ', NULLIF(outbox_v1, '')), CONCAT('"state": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`state` USING utf8mb4) COLLATE utf8mb4_bin), 'null')), CONCAT('"tags": ', IFNULL(IF(NEW.`tags` = '', '[]', CONCAT('[', REPLACE(JSON_QUOTE(CONVERT(NEW.`tags` USING utf8mb4) COLLATE utf8mb4_bin), ',', '", "'), ']')), 'null')), CONCAT('"born": ', IFNULL(IF(MONTH(NEW.`born`) = 0 OR DAYOFMONTH(NEW.`born`) = 0, 'null', CONCAT('"', DATE_FORMAT(NEW.`born`, '%Y-%m-%d'), '"')), 'null')), CONCAT('"at": ', IFNULL(IF(MONTH(NEW.`at`) = 0 OR DAYOFMONTH(NEW.`at`) = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(NEW.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23), '"')), 'null')), CONCAT('"stamp": ', IFNULL(IF(NEW.`stamp` = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(NEW.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z"')), 'null')), CONCAT('"dur": ', IFNULL(CONCAT('"', NEW.`dur`, '"'), 'null')), CONCAT('"yr": ', IFNULL((NEW.`yr` + 0), 'null')), CONCAT('"doc": ', NULLIF(outbox_v2, '')), CONCAT('"geo": ', NULLIF(outbox_v3, ''))), '}'),
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', IF(outbox_v1 IS NULL OR outbox_v2 IS NULL OR outbox_v3 IS NULL, CONCAT(', "omitted": {"reason": "max_event_bytes", "limit": 1044480', IF(outbox_v1 IS NULL OR outbox_v2 IS NULL OR outbox_v3 IS NULL, CONCAT(', "after": {', CONCAT_WS(', ', IF(outbox_v1 IS NULL, CONCAT('"blob": ', LENGTH(NEW.`blob`)), NULL), IF(outbox_v2 IS NULL, CONCAT('"doc": ', LENGTH(NEW.`doc`)), NULL), IF(outbox_v3 IS NULL, CONCAT('"geo": ', LENGTH(NEW.`geo`)), NULL)), '}'), ''), '}'), ''), '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "insert", "event_type": "insert", "aggregate_type": "", "aggregate_id": ', IFNULL(NEW.`id`, 'null'), ', "key": ', IFNULL(CONCAT('{"id": ', NEW.`id`, '}'), 'null'),
    ', "before": null, "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(NEW.`id`), 'null')), CONCAT('"amount": ', IFNULL(LENGTH(NEW.`amount`), 'null')), CONCAT('"ratio": ', IFNULL(LENGTH(NEW.`ratio`), 'null')), CONCAT('"flags": ', IFNULL(LENGTH(NEW.`flags`), 'null')), CONCAT('"name": ', IFNULL(LENGTH(NEW.`name`), 'null')), CONCAT('"blob": ', IFNULL(LENGTH(NEW.`blob`), 'null')), CONCAT('"state": ', IFNULL(LENGTH(NEW.`state`), 'null')), CONCAT('"tags": ', IFNULL(LENGTH(NEW.`tags`), 'null')), CONCAT('"born": ', IFNULL(LENGTH(NEW.`born`), 'null')), CONCAT('"at": ', IFNULL(LENGTH(NEW.`at`), 'null')), CONCAT('"stamp": ', IFNULL(LENGTH(NEW.`stamp`), 'null')), CONCAT('"dur": ', IFNULL(LENGTH(NEW.`dur`), 'null')), CONCAT('"yr": ', IFNULL(LENGTH(NEW.`yr`), 'null')), CONCAT('"doc": ', IFNULL(LENGTH(NEW.`doc`), 'null')), CONCAT('"geo": ', IFNULL(LENGTH(NEW.`geo`), 'null'))), '}'), '}}')));
  END; END IF;
END IF$$
DELIMITER ;

DROP TRIGGER IF EXISTS `outbox_au_items_5f3c4f8580`;

DELIMITER $$
CREATE TRIGGER `outbox_au_items_5f3c4f8580` AFTER UPDATE ON `items` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0')
  AND (NOT (OLD.`id` <=> NEW.`id` AND OLD.`amount` <=> NEW.`amount` AND OLD.`ratio` <=> NEW.`ratio` AND OLD.`flags` <=> NEW.`flags` AND CAST(OLD.`name` AS BINARY) <=> CAST(NEW.`name` AS BINARY) AND CAST(OLD.`blob` AS BINARY) <=> CAST(NEW.`blob` AS BINARY) AND CAST(OLD.`state` AS BINARY) <=> CAST(NEW.`state` AS BINARY) AND CAST(OLD.`tags` AS BINARY) <=> CAST(NEW.`tags` AS BINARY) AND OLD.`born` <=> NEW.`born` AND OLD.`at` <=> NEW.`at` AND OLD.`stamp` <=> NEW.`stamp` AND OLD.`dur` <=> NEW.`dur` AND OLD.`yr` <=> NEW.`yr` AND CAST(OLD.`doc` AS BINARY) <=> CAST(NEW.`doc` AS BINARY) AND CAST(OLD.`geo` AS BINARY) <=> CAST(NEW.`geo` AS BINARY))) THEN
  IF 2 * IFNULL(LENGTH(NEW.`blob`), 0) + 6 * IFNULL(LENGTH(NEW.`doc`), 0) + 6 * IFNULL(LENGTH(NEW.`geo`), 0) + 2 * IFNULL(LENGTH(OLD.`blob`), 0) + 6 * IFNULL(LENGTH(OLD.`doc`), 0) + 6 * IFNULL(LENGTH(OLD.`geo`), 0) <= 1041747 AND IFNULL(LENGTH(NEW.`blob`), 0) <= 912 AND IFNULL(LENGTH(OLD.`blob`), 0) <= 912 THEN
    INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
      'items',
      CRC32(CONCAT_WS(CHAR(31), 'items', NEW.`id`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "update", "event_type": "update", "aggregate_type": "", "aggregate_id": ', NEW.`id`, ', "key": ', '{"id": ', NEW.`id`, '}',
    ', "before": ', '{"id": ', OLD.`id`, ', "amount": ', IFNULL(CONCAT('"', OLD.`amount`, '"'), 'null'), ', "ratio": ', IFNULL(OLD.`ratio`, 'null'), ', "flags": ', IFNULL(CAST(OLD.`flags` AS UNSIGNED), 'null'), ', "name": ', IFNULL(JSON_QUOTE(CONVERT(OLD.`name` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), ', "blob": ', IFNULL(CONCAT('"', REPLACE(TO_BASE64(OLD.`blob`), CHAR(10 USING utf8mb4), ''), '"'), 'null'), ', "state": ', IFNULL(JSON_QUOTE(CONVERT(OLD.`state` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), ', "tags": ', IFNULL(IF(OLD.`tags` = '', '[]', CONCAT('[', REPLACE(JSON_QUOTE(CONVERT(OLD.`tags` USING utf8mb4) COLLATE utf8mb4_bin), ',', '", "'), ']')), 'null'), ', "born": ', IFNULL(IF(MONTH(OLD.`born`) = 0 OR DAYOFMONTH(OLD.`born`) = 0, 'null', CONCAT('"', DATE_FORMAT(OLD.`born`, '%Y-%m-%d'), '"')), 'null'), ', "at": ', IFNULL(IF(MONTH(OLD.`at`) = 0 OR DAYOFMONTH(OLD.`at`) = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(OLD.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23), '"')), 'null'), ', "stamp": ', IFNULL(IF(OLD.`stamp` = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(OLD.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z"')), 'null'), ', "dur": ', IFNULL(CONCAT('"', OLD.`dur`, '"'), 'null'), ', "yr": ', IFNULL((OLD.`yr` + 0), 'null'), ', "doc": ', IFNULL(CONVERT(OLD.`doc` USING utf8mb4) COLLATE utf8mb4_bin, 'null'), ', "geo": ', IFNULL(CONVERT(ST_AsGeoJSON(OLD.`geo`) USING utf8mb4) COLLATE utf8mb4_bin, 'null'), '}', ', "after": ', '{"id": ', NEW.`id`, ', "amount": ', IFNULL(CONCAT('"', NEW.`amount`, '"'), 'null'), ', "ratio": ', IFNULL(NEW.`ratio`, 'null'), ', "flags": ', IFNULL(CAST(NEW.`flags` AS UNSIGNED), 'null'), ', "name": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`name` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), ', "blob": ', IFNULL(CONCAT('"', REPLACE(TO_BASE64(NEW.`blob`), CHAR(10 USING utf8mb4), ''), '"'), 'null'), ', "state": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`state` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), ', "tags": ', IFNULL(IF(NEW.`tags` = '', '[]', CONCAT('[', REPLACE(JSON_QUOTE(CONVERT(NEW.`tags` USING utf8mb4) COLLATE utf8mb4_bin), ',', '", "'), ']')), 'null'), ', "born": ', IFNULL(IF(MONTH(NEW.`born`) = 0 OR DAYOFMONTH(NEW.`born`) = 0, 'null', CONCAT('"', DATE_FORMAT(NEW.`born`, '%Y-%m-%d'), '"')), 'null'), ', "at": ', IFNULL(IF(MONTH(NEW.`at`) = 0 OR DAYOFMONTH(NEW.`at`) = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(NEW.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23), '"')), 'null'), ', "stamp": ', IFNULL(IF(NEW.`stamp` = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(NEW.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z"')), 'null'), ', "dur": ', IFNULL(CONCAT('"', NEW.`dur`, '"'), 'null'), ', "yr": ', IFNULL((NEW.`yr` + 0), 'null'), ', "doc": ', IFNULL(CONVERT(NEW.`doc` USING utf8mb4) COLLATE utf8mb4_bin, 'null'), ', "geo": ', IFNULL(CONVERT(ST_AsGeoJSON(NEW.`geo`) USING utf8mb4) COLLATE utf8mb4_bin, 'null'), '}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "update", "event_type": "update", "aggregate_type": "", "aggregate_id": ', IFNULL(NEW.`id`, 'null'), ', "key": ', IFNULL(CONCAT('{"id": ', NEW.`id`, '}'), 'null'),
    ', "before": ', '{}', ', "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(NEW.`id`), 'null')), CONCAT('"amount": ', IFNULL(LENGTH(NEW.`amount`), 'null')), CONCAT('"ratio": ', IFNULL(LENGTH(NEW.`ratio`), 'null')), CONCAT('"flags": ', IFNULL(LENGTH(NEW.`flags`), 'null')), CONCAT('"name": ', IFNULL(LENGTH(NEW.`name`), 'null')), CONCAT('"blob": ', IFNULL(LENGTH(NEW.`blob`), 'null')), CONCAT('"state": ', IFNULL(LENGTH(NEW.`state`), 'null')), CONCAT('"tags": ', IFNULL(LENGTH(NEW.`tags`), 'null')), CONCAT('"born": ', IFNULL(LENGTH(NEW.`born`), 'null')), CONCAT('"at": ', IFNULL(LENGTH(NEW.`at`), 'null')), CONCAT('"stamp": ', IFNULL(LENGTH(NEW.`stamp`), 'null')), CONCAT('"dur": ', IFNULL(LENGTH(NEW.`dur`), 'null')), CONCAT('"yr": ', IFNULL(LENGTH(NEW.`yr`), 'null')), CONCAT('"doc": ', IFNULL(LENGTH(NEW.`doc`), 'null')), CONCAT('"geo": ', IFNULL(LENGTH(NEW.`geo`), 'null'))), '}'), ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(OLD.`id`), 'null')), CONCAT('"amount": ', IFNULL(LENGTH(OLD.`amount`), 'null')), CONCAT('"ratio": ', IFNULL(LENGTH(OLD.`ratio`), 'null')), CONCAT('"flags": ', IFNULL(LENGTH(OLD.`flags`), 'null')), CONCAT('"name": ', IFNULL(LENGTH(OLD.`name`), 'null')), CONCAT('"blob": ', IFNULL(LENGTH(OLD.`blob`), 'null')), CONCAT('"state": ', IFNULL(LENGTH(OLD.`state`), 'null')), CONCAT('"tags": ', IFNULL(LENGTH(OLD.`tags`), 'null')), CONCAT('"born": ', IFNULL(LENGTH(OLD.`born`), 'null')), CONCAT('"at": ', IFNULL(LENGTH(OLD.`at`), 'null')), CONCAT('"stamp": ', IFNULL(LENGTH(OLD.`stamp`), 'null')), CONCAT('"dur": ', IFNULL(LENGTH(OLD.`dur`), 'null')), CONCAT('"yr": ', IFNULL(LENGTH(OLD.`yr`), 'null')), CONCAT('"doc": ', IFNULL(LENGTH(OLD.`doc`), 'null')), CONCAT('"geo": ', IFNULL(LENGTH(OLD.`geo`), 'null'))), '}'), '}}')));
  ELSE BEGIN
    DECLARE outbox_room BIGINT DEFAULT 1041747;
    DECLARE outbox_i BIGINT;
    DECLARE outbox_chunk LONGBLOB;
    DECLARE outbox_v1, outbox_v2, outbox_v3, outbox_v4, outbox_v5, outbox_v6 LONGBLOB;
    IF NEW.`blob` IS NULL THEN SET outbox_v1 = 'null';
    ELSEIF 4 * CEILING(LENGTH(NEW.`blob`) / 3) + 2 <= outbox_room THEN
      SET outbox_i = 1, outbox_chunk = '', outbox_v1 = '"';
      WHILE outbox_i <= LENGTH(NEW.`blob`) DO
        SET outbox_chunk = CONCAT(outbox_chunk, REPLACE(TO_BASE64(SUBSTRING(NEW.`blob`, outbox_i, 912)), CHAR(10 USING utf8mb4), '')), outbox_i = outbox_i + 912;
        IF LENGTH(outbox_chunk) >= 65536 THEN SET outbox_v1 = CONCAT(outbox_v1, outbox_chunk), outbox_chunk = ''; END IF;
      END WHILE;
      SET outbox_v1 = CONCAT(outbox_v1, outbox_chunk, '"');
      SET outbox_v1 = IF(LENGTH(outbox_v1) <= outbox_room, outbox_v1, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v1), 0);
    END IF;
    IF NEW.`doc` IS NULL THEN SET outbox_v2 = 'null';
    ELSEIF 0 <= outbox_room THEN
      SET outbox_v2 = CONVERT(NEW.`doc` USING utf8mb4) COLLATE utf8mb4_bin;
      SET outbox_v2 = IF(LENGTH(outbox_v2) <= outbox_room, outbox_v2, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v2), 0);
    END IF;
    IF NEW.`geo` IS NULL THEN SET outbox_v3 = 'null';
    ELSEIF 0 <= outbox_room THEN
      SET outbox_v3 = CONVERT(ST_AsGeoJSON(NEW.`geo`) USING utf8mb4) COLLATE utf8mb4_bin;
      SET outbox_v3 = IF(LENGTH(outbox_v3) <= outbox_room, outbox_v3, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v3), 0);
    END IF;
    IF OLD.`blob` IS NULL THEN SET outbox_v4 = 'null';
    ELSEIF 4 * CEILING(LENGTH(OLD.`blob`) / 3) + 2 <= outbox_room THEN
      SET outbox_i = 1, outbox_chunk = '', outbox_v4 = '"';
      WHILE outbox_i <= LENGTH(OLD.`blob`) DO
        SET outbox_chunk = CONCAT(outbox_chunk, REPLACE(TO_BASE64(SUBSTRING(OLD.`blob`, outbox_i, 912)), CHAR(10 USING utf8mb4), '')), outbox_i = outbox_i + 912;
        IF LENGTH(outbox_chunk) >= 65536 THEN SET outbox_v4 = CONCAT(outbox_v4, outbox_chunk), outbox_chunk = ''; END IF;
      END WHILE;
      SET outbox_v4 = CONCAT(outbox_v4, outbox_chunk, '"');
      SET outbox_v4 = IF(LENGTH(outbox_v4) <= outbox_room, outbox_v4, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v4), 0);
    END IF;
    IF OLD.`doc` IS NULL THEN SET outbox_v5 = 'null';
    ELSEIF 0 <= outbox_room THEN
      SET outbox_v5 = CONVERT(OLD.`doc` USING utf8mb4) COLLATE utf8mb4_bin;
      SET outbox_v5 = IF(LENGTH(outbox_v5) <= outbox_room, outbox_v5, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v5), 0);
    END IF;
    IF OLD.`geo` IS NULL THEN SET outbox_v6 = 'null';
    ELSEIF 0 <= outbox_room THEN
      SET outbox_v6 = CONVERT(ST_AsGeoJSON(OLD.`geo`) USING utf8mb4) COLLATE utf8mb4_bin;
      SET outbox_v6 = IF(LENGTH(outbox_v6) <= outbox_room, outbox_v6, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v6), 0);
    END IF;
    INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
      'items',
      CRC32(CONCAT_WS(CHAR(31), 'items', NEW.`id`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "update", "event_type": "update", "aggregate_type": "", "aggregate_id": ', NEW.`id`, ', "key": ', '{"id": ', NEW.`id`, '}',
    ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', OLD.`id`), CONCAT('"amount": ', IFNULL(CONCAT('"', OLD.`amount`, '"'), 'null')), CONCAT('"ratio": ', IFNULL(OLD.`ratio`, 'null')), CONCAT('"flags": ', IFNULL(CAST(OLD.`flags` AS UNSIGNED), 'null')), CONCAT('"name": ', IFNULL(JSON_QUOTE(CONVERT(OLD.`name` USING utf8mb4) COLLATE utf8mb4_bin), 'null')), CONCAT('"blob": ', NULLIF(outbox_v4, '')), CONCAT('"state": ', IFNULL(JSON_QUOTE(CONVERT(OLD.`state` USING utf8mb4) COLLATE utf8mb4_bin), 'null')), CONCAT('"tags": ', IFNULL(IF(OLD.`tags` = '', '[]', CONCAT('[', REPLACE(JSON_QUOTE(CONVERT(OLD.`tags` USING utf8mb4) COLLATE utf8mb4_bin), ',', '", "'), ']')), 'null')), CONCAT('"born": ', IFNULL(IF(MONTH(OLD.`born`) = 0 OR DAYOFMONTH(OLD.`born`) = 0, 'null', CONCAT('"', DATE_FORMAT(OLD.`born`, '%Y-%m-%d'), '"')), 'null')), CONCAT('"at": ', IFNULL(IF(MONTH(OLD.`at`) = 0 OR DAYOFMONTH(OLD.`at`) = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(OLD.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23), '"')), 'null')), CONCAT('"stamp": ', IFNULL(IF(OLD.`stamp` = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(OLD.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z"')), 'null')), CONCAT('"dur": ', IFNULL(CONCAT('"', OLD.`dur`, '"'), 'null')), CONCAT('"yr": ', IFNULL((OLD.`yr` + 0), 'null')), CONCAT('"doc": ', NULLIF(outbox_v5, '')), CONCAT('"geo": ', NULLIF(outbox_v6, ''))), '}'), ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', NEW.`id`), CONCAT('"amount": ', IFNULL(CONCAT('"', NEW.`amount`, '"'), 'null')), CONCAT('"ratio": ', IFNULL(NEW.`ratio`, 'null')), CONCAT('"flags": ', IFNULL(CAST(NEW.`flags` AS UNSIGNED), 'null')), CONCAT('"name": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`name` USING utf8mb4) COLLATE utf8mb4_bin), 'null')), CONCAT('"blob": ', NULLIF(outbox_v1, '')), CONCAT('"state": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`state` USING utf8mb4) COLLATE utf8mb4_bin), 'null')), CONCAT('"tags": ', IFNULL(IF(NEW.`tags` = '', '[]', CONCAT('[', REPLACE(JSON_QUOTE(CONVERT(NEW.`tags` USING utf8mb4) COLLATE utf8mb4_bin), ',', '", "'), ']')), 'null')), CONCAT('"born": ', IFNULL(IF(MONTH(NEW.`born`) = 0 OR DAYOFMONTH(NEW.`born`) = 0, 'null', CONCAT('"', DATE_FORMAT(NEW.`born`, '%Y-%m-%d'), '"')), 'null')), CONCAT('"at": ', IFNULL(IF(MONTH(NEW.`at`) = 0 OR DAYOFMONTH(NEW.`at`) = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(NEW.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23), '"')), 'null')), CONCAT('"stamp": ', IFNULL(IF(NEW.`stamp` = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(NEW.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z"')), 'null')), CONCAT('"dur": ', IFNULL(CONCAT('"', NEW.`dur`, '"'), 'null')), CONCAT('"yr": ', IFNULL((NEW.`yr` + 0), 'null')), CONCAT('"doc": ', NULLIF(outbox_v2, '')), CONCAT('"geo": ', NULLIF(outbox_v3, ''))), '}'),
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', IF(outbox_v1 IS NULL OR outbox_v2 IS NULL OR outbox_v3 IS NULL OR outbox_v4 IS NULL OR outbox_v5 IS NULL OR outbox_v6 IS NULL, CONCAT(', "omitted": {"reason": "max_event_bytes", "limit": 1044480', IF(outbox_v1 IS NULL OR outbox_v2 IS NULL OR outbox_v3 IS NULL, CONCAT(', "after": {', CONCAT_WS(', ', IF(outbox_v1 IS NULL, CONCAT('"blob": ', LENGTH(NEW.`blob`)), NULL), IF(outbox_v2 IS NULL, CONCAT('"doc": ', LENGTH(NEW.`doc`)), NULL), IF(outbox_v3 IS NULL, CONCAT('"geo": ', LENGTH(NEW.`geo`)), NULL)), '}'), ''), IF(outbox_v4 IS NULL OR outbox_v5 IS NULL OR outbox_v6 IS NULL, CONCAT(', "before": {', CONCAT_WS(', ', IF(outbox_v4 IS NULL, CONCAT('"blob": ', LENGTH(OLD.`blob`)), NULL), IF(outbox_v5 IS NULL, CONCAT('"doc": ', LENGTH(OLD.`doc`)), NULL), IF(outbox_v6 IS NULL, CONCAT('"geo": ', LENGTH(OLD.`geo`)), NULL)), '}'), ''), '}'), ''), '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "update", "event_type": "update", "aggregate_type": "", "aggregate_id": ', IFNULL(NEW.`id`, 'null'), ', "key": ', IFNULL(CONCAT('{"id": ', NEW.`id`, '}'), 'null'),
    ', "before": ', '{}', ', "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(NEW.`id`), 'null')), CONCAT('"amount": ', IFNULL(LENGTH(NEW.`amount`), 'null')), CONCAT('"ratio": ', IFNULL(LENGTH(NEW.`ratio`), 'null')), CONCAT('"flags": ', IFNULL(LENGTH(NEW.`flags`), 'null')), CONCAT('"name": ', IFNULL(LENGTH(NEW.`name`), 'null')), CONCAT('"blob": ', IFNULL(LENGTH(NEW.`blob`), 'null')), CONCAT('"state": ', IFNULL(LENGTH(NEW.`state`), 'null')), CONCAT('"tags": ', IFNULL(LENGTH(NEW.`tags`), 'null')), CONCAT('"born": ', IFNULL(LENGTH(NEW.`born`), 'null')), CONCAT('"at": ', IFNULL(LENGTH(NEW.`at`), 'null')), CONCAT('"stamp": ', IFNULL(LENGTH(NEW.`stamp`), 'null')), CONCAT('"dur": ', IFNULL(LENGTH(NEW.`dur`), 'null')), CONCAT('"yr": ', IFNULL(LENGTH(NEW.`yr`), 'null')), CONCAT('"doc": ', IFNULL(LENGTH(NEW.`doc`), 'null')), CONCAT('"geo": ', IFNULL(LENGTH(NEW.`geo`), 'null'))), '}'), ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(OLD.`id`), 'null')), CONCAT('"amount": ', IFNULL(LENGTH(OLD.`amount`), 'null')), CONCAT('"ratio": ', IFNULL(LENGTH(OLD.`ratio`), 'null')), CONCAT('"flags": ', IFNULL(LENGTH(OLD.`flags`), 'null')), CONCAT('"name": ', IFNULL(LENGTH(OLD.`name`), 'null')), CONCAT('"blob": ', IFNULL(LENGTH(OLD.`blob`), 'null')), CONCAT('"state": ', IFNULL(LENGTH(OLD.`state`), 'null')), CONCAT('"tags": ', IFNULL(LENGTH(OLD.`tags`), 'null')), CONCAT('"born": ', IFNULL(LENGTH(OLD.`born`), 'null')), CONCAT('"at": ', IFNULL(LENGTH(OLD.`at`), 'null')), CONCAT('"stamp": ', IFNULL(LENGTH(OLD.`stamp`), 'null')), CONCAT('"dur": ', IFNULL(LENGTH(OLD.`dur`), 'null')), CONCAT('"yr": ', IFNULL(LENGTH(OLD.`yr`), 'null')), CONCAT('"doc": ', IFNULL(LENGTH(OLD.`doc`), 'null')), CONCAT('"geo": ', IFNULL(LENGTH(OLD.`geo`), 'null'))), '}'), '}}')));
  END; END IF;
END IF$$
DELIMITER ;

DROP TRIGGER IF EXISTS `outbox_ad_items_5f3c4f8580`;

DELIMITER $$
CREATE TRIGGER `outbox_ad_items_5f3c4f8580` AFTER DELETE ON `items` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
  IF 2 * IFNULL(LENGTH(OLD.`blob`), 0) + 6 * IFNULL(LENGTH(OLD.`doc`), 0) + 6 * IFNULL(LENGTH(OLD.`geo`), 0) <= 1042915 AND IFNULL(LENGTH(OLD.`blob`), 0) <= 912 THEN
    INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
      'items',
      CRC32(CONCAT_WS(CHAR(31), 'items', OLD.`id`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "delete", "event_type": "delete", "aggregate_type": "", "aggregate_id": ', OLD.`id`, ', "key": ', '{"id": ', OLD.`id`, '}',
    ', "before": ', '{"id": ', OLD.`id`, ', "amount": ', IFNULL(CONCAT('"', OLD.`amount`, '"'), 'null'), ', "ratio": ', IFNULL(OLD.`ratio`, 'null'), ', "flags": ', IFNULL(CAST(OLD.`flags` AS UNSIGNED), 'null'), ', "name": ', IFNULL(JSON_QUOTE(CONVERT(OLD.`name` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), ', "blob": ', IFNULL(CONCAT('"', REPLACE(TO_BASE64(OLD.`blob`), CHAR(10 USING utf8mb4), ''), '"'), 'null'), ', "state": ', IFNULL(JSON_QUOTE(CONVERT(OLD.`state` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), ', "tags": ', IFNULL(IF(OLD.`tags` = '', '[]', CONCAT('[', REPLACE(JSON_QUOTE(CONVERT(OLD.`tags` USING utf8mb4) COLLATE utf8mb4_bin), ',', '", "'), ']')), 'null'), ', "born": ', IFNULL(IF(MONTH(OLD.`born`) = 0 OR DAYOFMONTH(OLD.`born`) = 0, 'null', CONCAT('"', DATE_FORMAT(OLD.`born`, '%Y-%m-%d'), '"')), 'null'), ', "at": ', IFNULL(IF(MONTH(OLD.`at`) = 0 OR DAYOFMONTH(OLD.`at`) = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(OLD.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23), '"')), 'null'), ', "stamp": ', IFNULL(IF(OLD.`stamp` = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(OLD.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z"')), 'null'), ', "dur": ', IFNULL(CONCAT('"', OLD.`dur`, '"'), 'null'), ', "yr": ', IFNULL((OLD.`yr` + 0), 'null'), ', "doc": ', IFNULL(CONVERT(OLD.`doc` USING utf8mb4) COLLATE utf8mb4_bin, 'null'), ', "geo": ', IFNULL(CONVERT(ST_AsGeoJSON(OLD.`geo`) USING utf8mb4) COLLATE utf8mb4_bin, 'null'), '}', ', "after": null',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "delete", "event_type": "delete", "aggregate_type": "", "aggregate_id": ', IFNULL(OLD.`id`, 'null'), ', "key": ', IFNULL(CONCAT('{"id": ', OLD.`id`, '}'), 'null'),
    ', "before": ', '{}', ', "after": null',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(OLD.`id`), 'null')), CONCAT('"amount": ', IFNULL(LENGTH(OLD.`amount`), 'null')), CONCAT('"ratio": ', IFNULL(LENGTH(OLD.`ratio`), 'null')), CONCAT('"flags": ', IFNULL(LENGTH(OLD.`flags`), 'null')), CONCAT('"name": ', IFNULL(LENGTH(OLD.`name`), 'null')), CONCAT('"blob": ', IFNULL(LENGTH(OLD.`blob`), 'null')), CONCAT('"state": ', IFNULL(LENGTH(OLD.`state`), 'null')), CONCAT('"tags": ', IFNULL(LENGTH(OLD.`tags`), 'null')), CONCAT('"born": ', IFNULL(LENGTH(OLD.`born`), 'null')), CONCAT('"at": ', IFNULL(LENGTH(OLD.`at`), 'null')), CONCAT('"stamp": ', IFNULL(LENGTH(OLD.`stamp`), 'null')), CONCAT('"dur": ', IFNULL(LENGTH(OLD.`dur`), 'null')), CONCAT('"yr": ', IFNULL(LENGTH(OLD.`yr`), 'null')), CONCAT('"doc": ', IFNULL(LENGTH(OLD.`doc`), 'null')), CONCAT('"geo": ', IFNULL(LENGTH(OLD.`geo`), 'null'))), '}'), '}}')));
  ELSE BEGIN
    DECLARE outbox_room BIGINT DEFAULT 1042915;
    DECLARE outbox_i BIGINT;
    DECLARE outbox_chunk LONGBLOB;
    DECLARE outbox_v1, outbox_v2, outbox_v3 LONGBLOB;
    IF OLD.`blob` IS NULL THEN SET outbox_v1 = 'null';
    ELSEIF 4 * CEILING(LENGTH(OLD.`blob`) / 3) + 2 <= outbox_room THEN
      SET outbox_i = 1, outbox_chunk = '', outbox_v1 = '"';
      WHILE outbox_i <= LENGTH(OLD.`blob`) DO
        SET outbox_chunk = CONCAT(outbox_chunk, REPLACE(TO_BASE64(SUBSTRING(OLD.`blob`, outbox_i, 912)), CHAR(10 USING utf8mb4), '')), outbox_i = outbox_i + 912;
        IF LENGTH(outbox_chunk) >= 65536 THEN SET outbox_v1 = CONCAT(outbox_v1, outbox_chunk), outbox_chunk = ''; END IF;
      END WHILE;
      SET outbox_v1 = CONCAT(outbox_v1, outbox_chunk, '"');
      SET outbox_v1 = IF(LENGTH(outbox_v1) <= outbox_room, outbox_v1, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v1), 0);
    END IF;
    IF OLD.`doc` IS NULL THEN SET outbox_v2 = 'null';
    ELSEIF 0 <= outbox_room THEN
      SET outbox_v2 = CONVERT(OLD.`doc` USING utf8mb4) COLLATE utf8mb4_bin;
      SET outbox_v2 = IF(LENGTH(outbox_v2) <= outbox_room, outbox_v2, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v2), 0);
    END IF;
    IF OLD.`geo` IS NULL THEN SET outbox_v3 = 'null';
    ELSEIF 0 <= outbox_room THEN
      SET outbox_v3 = CONVERT(ST_AsGeoJSON(OLD.`geo`) USING utf8mb4) COLLATE utf8mb4_bin;
      SET outbox_v3 = IF(LENGTH(outbox_v3) <= outbox_room, outbox_v3, NULL);
      SET outbox_room = outbox_room - IFNULL(LENGTH(outbox_v3), 0);
    END IF;
    INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
      'items',
      CRC32(CONCAT_WS(CHAR(31), 'items', OLD.`id`)),
      COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "delete", "event_type": "delete", "aggregate_type": "", "aggregate_id": ', OLD.`id`, ', "key": ', '{"id": ', OLD.`id`, '}',
    ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', OLD.`id`), CONCAT('"amount": ', IFNULL(CONCAT('"', OLD.`amount`, '"'), 'null')), CONCAT('"ratio": ', IFNULL(OLD.`ratio`, 'null')), CONCAT('"flags": ', IFNULL(CAST(OLD.`flags` AS UNSIGNED), 'null')), CONCAT('"name": ', IFNULL(JSON_QUOTE(CONVERT(OLD.`name` USING utf8mb4) COLLATE utf8mb4_bin), 'null')), CONCAT('"blob": ', NULLIF(outbox_v1, '')), CONCAT('"state": ', IFNULL(JSON_QUOTE(CONVERT(OLD.`state` USING utf8mb4) COLLATE utf8mb4_bin), 'null')), CONCAT('"tags": ', IFNULL(IF(OLD.`tags` = '', '[]', CONCAT('[', REPLACE(JSON_QUOTE(CONVERT(OLD.`tags` USING utf8mb4) COLLATE utf8mb4_bin), ',', '", "'), ']')), 'null')), CONCAT('"born": ', IFNULL(IF(MONTH(OLD.`born`) = 0 OR DAYOFMONTH(OLD.`born`) = 0, 'null', CONCAT('"', DATE_FORMAT(OLD.`born`, '%Y-%m-%d'), '"')), 'null')), CONCAT('"at": ', IFNULL(IF(MONTH(OLD.`at`) = 0 OR DAYOFMONTH(OLD.`at`) = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(OLD.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23), '"')), 'null')), CONCAT('"stamp": ', IFNULL(IF(OLD.`stamp` = 0, 'null', CONCAT('"', LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(OLD.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z"')), 'null')), CONCAT('"dur": ', IFNULL(CONCAT('"', OLD.`dur`, '"'), 'null')), CONCAT('"yr": ', IFNULL((OLD.`yr` + 0), 'null')), CONCAT('"doc": ', NULLIF(outbox_v2, '')), CONCAT('"geo": ', NULLIF(outbox_v3, ''))), '}'), ', "after": null',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', IF(outbox_v1 IS NULL OR outbox_v2 IS NULL OR outbox_v3 IS NULL, CONCAT(', "omitted": {"reason": "max_event_bytes", "limit": 1044480', IF(outbox_v1 IS NULL OR outbox_v2 IS NULL OR outbox_v3 IS NULL, CONCAT(', "before": {', CONCAT_WS(', ', IF(outbox_v1 IS NULL, CONCAT('"blob": ', LENGTH(OLD.`blob`)), NULL), IF(outbox_v2 IS NULL, CONCAT('"doc": ', LENGTH(OLD.`doc`)), NULL), IF(outbox_v3 IS NULL, CONCAT('"geo": ', LENGTH(OLD.`geo`)), NULL)), '}'), ''), '}'), ''), '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "items", "op": "delete", "event_type": "delete", "aggregate_type": "", "aggregate_id": ', IFNULL(OLD.`id`, 'null'), ', "key": ', IFNULL(CONCAT('{"id": ', OLD.`id`, '}'), 'null'),
    ', "before": ', '{}', ', "after": null',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '", "version": "abb13f9811"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "before": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(OLD.`id`), 'null')), CONCAT('"amount": ', IFNULL(LENGTH(OLD.`amount`), 'null')), CONCAT('"ratio": ', IFNULL(LENGTH(OLD.`ratio`), 'null')), CONCAT('"flags": ', IFNULL(LENGTH(OLD.`flags`), 'null')), CONCAT('"name": ', IFNULL(LENGTH(OLD.`name`), 'null')), CONCAT('"blob": ', IFNULL(LENGTH(OLD.`blob`), 'null')), CONCAT('"state": ', IFNULL(LENGTH(OLD.`state`), 'null')), CONCAT('"tags": ', IFNULL(LENGTH(OLD.`tags`), 'null')), CONCAT('"born": ', IFNULL(LENGTH(OLD.`born`), 'null')), CONCAT('"at": ', IFNULL(LENGTH(OLD.`at`), 'null')), CONCAT('"stamp": ', IFNULL(LENGTH(OLD.`stamp`), 'null')), CONCAT('"dur": ', IFNULL(LENGTH(OLD.`dur`), 'null')), CONCAT('"yr": ', IFNULL(LENGTH(OLD.`yr`), 'null')), CONCAT('"doc": ', IFNULL(LENGTH(OLD.`doc`), 'null')), CONCAT('"geo": ', IFNULL(LENGTH(OLD.`geo`), 'null'))), '}'), '}}')));
  END; END IF;
END IF$$
DELIMITER ;
