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

SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';

SET NAMES utf8mb4 COLLATE utf8mb4_bin;

DROP TRIGGER IF EXISTS `outbox_ai_outbox_7772189a25`;

DELIMITER $$
CREATE TRIGGER `outbox_ai_outbox_7772189a25` AFTER INSERT ON `outbox` FOR EACH ROW
IF (@outbox_capture IS NULL OR @outbox_capture <> '0') THEN
  IF 6 * IFNULL(LENGTH(NEW.`payload`), 0) <= 256360 THEN
    INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
      'outbox',
      CRC32(CONCAT_WS(CHAR(31), CAST(NEW.`aggregatetype` AS BINARY), CAST(NEW.`aggregateid` AS BINARY))),
      COALESCE(CONCAT('{"id": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`id` USING utf8mb4) COLLATE utf8mb4_bin), CONCAT('"', UUID(), '"')), ', "op": "event", "event_type": ', JSON_QUOTE(CONVERT(NEW.`type` USING utf8mb4) COLLATE utf8mb4_bin), ', "aggregate_type": ', JSON_QUOTE(CONVERT(NEW.`aggregatetype` USING utf8mb4) COLLATE utf8mb4_bin), ', "aggregate_id": ', JSON_QUOTE(CONVERT(NEW.`aggregateid` USING utf8mb4) COLLATE utf8mb4_bin), ', "payload": ', IFNULL(IF(NEW.`payload` IS NULL, NULL, IFNULL(JSON_EXTRACT(CONVERT(NEW.`payload` USING utf8mb4) COLLATE utf8mb4_bin, '$'), JSON_QUOTE(CONVERT(NEW.`payload` USING utf8mb4) COLLATE utf8mb4_bin))), 'null'), ', "headers": {', '"tenant": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`tenant` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), '}', ', "schema_version": ', IFNULL(NEW.`version`, 'null'), ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '"', '}'), CONCAT('{"id": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`id` USING utf8mb4) COLLATE utf8mb4_bin), CONCAT('"', UUID(), '"')), ', "op": "event", "event_type": ', JSON_QUOTE(CONVERT(NEW.`type` USING utf8mb4) COLLATE utf8mb4_bin), ', "aggregate_type": ', JSON_QUOTE(CONVERT(NEW.`aggregatetype` USING utf8mb4) COLLATE utf8mb4_bin), ', "aggregate_id": ', JSON_QUOTE(CONVERT(NEW.`aggregateid` USING utf8mb4) COLLATE utf8mb4_bin), ', "payload": null', ', "headers": {', '"tenant": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`tenant` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), '}', ', "schema_version": ', IFNULL(NEW.`version`, 'null'), ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '"', ', "omitted": {"reason": "capture_failed", "limit": 262144, "payload": ', IFNULL(LENGTH(NEW.`payload`), 'null'), '}}')));
  ELSE BEGIN
    DECLARE outbox_payload LONGBLOB;
    SET outbox_payload = IFNULL(IF(NEW.`payload` IS NULL, NULL, IFNULL(JSON_EXTRACT(CONVERT(NEW.`payload` USING utf8mb4) COLLATE utf8mb4_bin, '$'), JSON_QUOTE(CONVERT(NEW.`payload` USING utf8mb4) COLLATE utf8mb4_bin))), 'null');
    SET outbox_payload = IF(LENGTH(outbox_payload) <= 256360, outbox_payload, NULL);
    INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`) VALUES (
      'outbox',
      CRC32(CONCAT_WS(CHAR(31), CAST(NEW.`aggregatetype` AS BINARY), CAST(NEW.`aggregateid` AS BINARY))),
      COALESCE(CONCAT('{"id": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`id` USING utf8mb4) COLLATE utf8mb4_bin), CONCAT('"', UUID(), '"')), ', "op": "event", "event_type": ', JSON_QUOTE(CONVERT(NEW.`type` USING utf8mb4) COLLATE utf8mb4_bin), ', "aggregate_type": ', JSON_QUOTE(CONVERT(NEW.`aggregatetype` USING utf8mb4) COLLATE utf8mb4_bin), ', "aggregate_id": ', JSON_QUOTE(CONVERT(NEW.`aggregateid` USING utf8mb4) COLLATE utf8mb4_bin), ', "payload": ', outbox_payload, ', "headers": {', '"tenant": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`tenant` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), '}', ', "schema_version": ', IFNULL(NEW.`version`, 'null'), ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '"', '}'), CONCAT('{"id": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`id` USING utf8mb4) COLLATE utf8mb4_bin), CONCAT('"', UUID(), '"')), ', "op": "event", "event_type": ', JSON_QUOTE(CONVERT(NEW.`type` USING utf8mb4) COLLATE utf8mb4_bin), ', "aggregate_type": ', JSON_QUOTE(CONVERT(NEW.`aggregatetype` USING utf8mb4) COLLATE utf8mb4_bin), ', "aggregate_id": ', JSON_QUOTE(CONVERT(NEW.`aggregateid` USING utf8mb4) COLLATE utf8mb4_bin), ', "payload": null', ', "headers": {', '"tenant": ', IFNULL(JSON_QUOTE(CONVERT(NEW.`tenant` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), '}', ', "schema_version": ', IFNULL(NEW.`version`, 'null'), ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'), '"', ', "omitted": {"reason": "max_event_bytes", "limit": 262144, "payload": ', IFNULL(LENGTH(NEW.`payload`), 'null'), '}}')));
  END; END IF;
END IF$$
DELIMITER ;
