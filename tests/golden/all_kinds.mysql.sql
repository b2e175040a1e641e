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

DROP TRIGGER IF EXISTS `outbox_ai_items_5f3c4f8580`;

DELIMITER $$
CREATE TRIGGER `outbox_ai_items_5f3c4f8580` AFTER INSERT ON `items` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
  'items',
  CRC32(CONCAT_WS(CHAR(31), 'items', NEW.`id`)),
  JSON_OBJECT(
    'id', UUID(),
    'table', 'items',
    'op', 'insert',
    'event_type', 'insert',
    'aggregate_type', '',
    'aggregate_id', NEW.`id`,
    'key', JSON_OBJECT('id', NEW.`id`),
    'before', NULL,
    'after', JSON_OBJECT('id', NEW.`id`, 'amount', CAST(NEW.`amount` AS CHAR), 'ratio', NEW.`ratio`, 'flags', CAST(NEW.`flags` AS UNSIGNED), 'name', NEW.`name`, 'blob', REPLACE(TO_BASE64(NEW.`blob`), CHAR(10), ''), 'state', NEW.`state`, 'tags', IF(NEW.`tags` IS NULL, NULL, CAST(CONCAT('[', CONCAT_WS(',', IF(NEW.`tags` & 1, '"x"', NULL), IF(NEW.`tags` & 2, '"y''z"', NULL), IF(NEW.`tags` & 4, CONVERT(X'22775c227622' USING utf8mb4), NULL)), ']') AS JSON)), 'born', IF(NEW.`born` = 0, NULL, DATE_FORMAT(NEW.`born`, '%Y-%m-%d')), 'at', IF(NEW.`at` = 0, NULL, LEFT(DATE_FORMAT(NEW.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23)), 'stamp', IF(NEW.`stamp` = 0, NULL, CONCAT(LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(NEW.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z')), 'dur', CAST(NEW.`dur` AS CHAR), 'yr', NEW.`yr` + 0, 'doc', NEW.`doc`, 'geo', ST_AsGeoJSON(NEW.`geo`)),
    'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'),
    'version', 'b633487056'
  )
);
END IF$$
DELIMITER ;

DROP TRIGGER IF EXISTS `outbox_au_items_5f3c4f8580`;

DELIMITER $$
CREATE TRIGGER `outbox_au_items_5f3c4f8580` AFTER UPDATE ON `items` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0')
  AND (NOT (OLD.`id` <=> NEW.`id` AND OLD.`amount` <=> NEW.`amount` AND OLD.`ratio` <=> NEW.`ratio` AND OLD.`flags` <=> NEW.`flags` AND CAST(OLD.`name` AS BINARY) <=> CAST(NEW.`name` AS BINARY) AND CAST(OLD.`blob` AS BINARY) <=> CAST(NEW.`blob` AS BINARY) AND CAST(OLD.`state` AS BINARY) <=> CAST(NEW.`state` AS BINARY) AND CAST(OLD.`tags` AS BINARY) <=> CAST(NEW.`tags` AS BINARY) AND OLD.`born` <=> NEW.`born` AND OLD.`at` <=> NEW.`at` AND OLD.`stamp` <=> NEW.`stamp` AND OLD.`dur` <=> NEW.`dur` AND OLD.`yr` <=> NEW.`yr` AND CAST(OLD.`doc` AS BINARY) <=> CAST(NEW.`doc` AS BINARY) AND CAST(OLD.`geo` AS BINARY) <=> CAST(NEW.`geo` AS BINARY))) THEN
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
  'items',
  CRC32(CONCAT_WS(CHAR(31), 'items', NEW.`id`)),
  JSON_OBJECT(
    'id', UUID(),
    'table', 'items',
    'op', 'update',
    'event_type', 'update',
    'aggregate_type', '',
    'aggregate_id', NEW.`id`,
    'key', JSON_OBJECT('id', NEW.`id`),
    'before', JSON_OBJECT('id', OLD.`id`, 'amount', CAST(OLD.`amount` AS CHAR), 'ratio', OLD.`ratio`, 'flags', CAST(OLD.`flags` AS UNSIGNED), 'name', OLD.`name`, 'blob', REPLACE(TO_BASE64(OLD.`blob`), CHAR(10), ''), 'state', OLD.`state`, 'tags', IF(OLD.`tags` IS NULL, NULL, CAST(CONCAT('[', CONCAT_WS(',', IF(OLD.`tags` & 1, '"x"', NULL), IF(OLD.`tags` & 2, '"y''z"', NULL), IF(OLD.`tags` & 4, CONVERT(X'22775c227622' USING utf8mb4), NULL)), ']') AS JSON)), 'born', IF(OLD.`born` = 0, NULL, DATE_FORMAT(OLD.`born`, '%Y-%m-%d')), 'at', IF(OLD.`at` = 0, NULL, LEFT(DATE_FORMAT(OLD.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23)), 'stamp', IF(OLD.`stamp` = 0, NULL, CONCAT(LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(OLD.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z')), 'dur', CAST(OLD.`dur` AS CHAR), 'yr', OLD.`yr` + 0, 'doc', OLD.`doc`, 'geo', ST_AsGeoJSON(OLD.`geo`)),
    'after', JSON_OBJECT('id', NEW.`id`, 'amount', CAST(NEW.`amount` AS CHAR), 'ratio', NEW.`ratio`, 'flags', CAST(NEW.`flags` AS UNSIGNED), 'name', NEW.`name`, 'blob', REPLACE(TO_BASE64(NEW.`blob`), CHAR(10), ''), 'state', NEW.`state`, 'tags', IF(NEW.`tags` IS NULL, NULL, CAST(CONCAT('[', CONCAT_WS(',', IF(NEW.`tags` & 1, '"x"', NULL), IF(NEW.`tags` & 2, '"y''z"', NULL), IF(NEW.`tags` & 4, CONVERT(X'22775c227622' USING utf8mb4), NULL)), ']') AS JSON)), 'born', IF(NEW.`born` = 0, NULL, DATE_FORMAT(NEW.`born`, '%Y-%m-%d')), 'at', IF(NEW.`at` = 0, NULL, LEFT(DATE_FORMAT(NEW.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23)), 'stamp', IF(NEW.`stamp` = 0, NULL, CONCAT(LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(NEW.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z')), 'dur', CAST(NEW.`dur` AS CHAR), 'yr', NEW.`yr` + 0, 'doc', NEW.`doc`, 'geo', ST_AsGeoJSON(NEW.`geo`)),
    'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'),
    'version', 'b633487056'
  )
);
END IF$$
DELIMITER ;

DROP TRIGGER IF EXISTS `outbox_ad_items_5f3c4f8580`;

DELIMITER $$
CREATE TRIGGER `outbox_ad_items_5f3c4f8580` AFTER DELETE ON `items` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
  'items',
  CRC32(CONCAT_WS(CHAR(31), 'items', OLD.`id`)),
  JSON_OBJECT(
    'id', UUID(),
    'table', 'items',
    'op', 'delete',
    'event_type', 'delete',
    'aggregate_type', '',
    'aggregate_id', OLD.`id`,
    'key', JSON_OBJECT('id', OLD.`id`),
    'before', JSON_OBJECT('id', OLD.`id`, 'amount', CAST(OLD.`amount` AS CHAR), 'ratio', OLD.`ratio`, 'flags', CAST(OLD.`flags` AS UNSIGNED), 'name', OLD.`name`, 'blob', REPLACE(TO_BASE64(OLD.`blob`), CHAR(10), ''), 'state', OLD.`state`, 'tags', IF(OLD.`tags` IS NULL, NULL, CAST(CONCAT('[', CONCAT_WS(',', IF(OLD.`tags` & 1, '"x"', NULL), IF(OLD.`tags` & 2, '"y''z"', NULL), IF(OLD.`tags` & 4, CONVERT(X'22775c227622' USING utf8mb4), NULL)), ']') AS JSON)), 'born', IF(OLD.`born` = 0, NULL, DATE_FORMAT(OLD.`born`, '%Y-%m-%d')), 'at', IF(OLD.`at` = 0, NULL, LEFT(DATE_FORMAT(OLD.`at`, '%Y-%m-%dT%H:%i:%s.%f'), 23)), 'stamp', IF(OLD.`stamp` = 0, NULL, CONCAT(LEFT(DATE_FORMAT(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL ROUND(UNIX_TIMESTAMP(OLD.`stamp`) * 1000000) MICROSECOND, '%Y-%m-%dT%H:%i:%s.%f'), 26), 'Z')), 'dur', CAST(OLD.`dur` AS CHAR), 'yr', OLD.`yr` + 0, 'doc', OLD.`doc`, 'geo', ST_AsGeoJSON(OLD.`geo`)),
    'after', NULL,
    'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'),
    'version', 'b633487056'
  )
);
END IF$$
DELIMITER ;
