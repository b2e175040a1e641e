-- first chunk (locking read)
SELECT outbox_count, outbox_back, `id`, outbox_fits FROM (SELECT COUNT(*) OVER () AS outbox_count, ROW_NUMBER() OVER (ORDER BY `id` DESC) AS outbox_back, `id`, outbox_fits FROM (SELECT snapshot_row.`id`, 6 * IFNULL(LENGTH(snapshot_row.`body`), 0) <= 65006 AS outbox_fits FROM `docs` AS snapshot_row ORDER BY snapshot_row.`id` LIMIT %s FOR SHARE NOWAIT) AS outbox_chunk) AS outbox_counted WHERE MOD(outbox_back - 1, 1000) = 0 OR NOT outbox_fits ORDER BY outbox_back DESC;

-- next chunk (locking read), with --where
SELECT outbox_count, outbox_back, `id`, outbox_fits FROM (SELECT COUNT(*) OVER () AS outbox_count, ROW_NUMBER() OVER (ORDER BY `id` DESC) AS outbox_back, `id`, outbox_fits FROM (SELECT snapshot_row.`id`, 6 * IFNULL(LENGTH(snapshot_row.`body`), 0) <= 65006 AS outbox_fits FROM `docs` AS snapshot_row WHERE ((snapshot_row.`id` > %s)) AND (qty > 0
) ORDER BY snapshot_row.`id` LIMIT %s FOR SHARE NOWAIT) AS outbox_chunk) AS outbox_counted WHERE MOD(outbox_back - 1, 1000) = 0 OR NOT outbox_fits ORDER BY outbox_back DESC;

-- one-row chunk (a locking read that waits)
SELECT outbox_count, outbox_back, `id`, outbox_fits FROM (SELECT COUNT(*) OVER () AS outbox_count, ROW_NUMBER() OVER (ORDER BY `id` DESC) AS outbox_back, `id`, outbox_fits FROM (SELECT snapshot_row.`id`, 6 * IFNULL(LENGTH(snapshot_row.`body`), 0) <= 65006 AS outbox_fits FROM `docs` AS snapshot_row WHERE ((snapshot_row.`id` > %s)) ORDER BY snapshot_row.`id` LIMIT %s FOR SHARE) AS outbox_chunk) AS outbox_counted WHERE MOD(outbox_back - 1, 1000) = 0 OR NOT outbox_fits ORDER BY outbox_back DESC;

-- chunk insert
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`)
SELECT 'docs',
  CRC32(CONCAT_WS(CHAR(31), 'docs', snapshot_row.`id`)),
  COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "docs", "op": "read", "event_type": "read", "aggregate_type": "", "aggregate_id": ', snapshot_row.`id`, ', "key": ', '{"id": ', snapshot_row.`id`, '}',
    ', "before": null, "after": ', '{"id": ', snapshot_row.`id`, ', "body": ', IFNULL(JSON_QUOTE(CONVERT(snapshot_row.`body` USING utf8mb4) COLLATE utf8mb4_bin), 'null'), '}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ'), '", "version": "db0c4724f3"', ', "backfill": "7", "destination": "search"', '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "docs", "op": "read", "event_type": "read", "aggregate_type": "", "aggregate_id": ', IFNULL(snapshot_row.`id`, 'null'), ', "key": ', IFNULL(CONCAT('{"id": ', snapshot_row.`id`, '}'), 'null'),
    ', "before": null, "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ'), '", "version": "db0c4724f3"', ', "backfill": "7", "destination": "search"', ', "omitted": {"reason": "capture_failed", "limit": 65536', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(snapshot_row.`id`), 'null')), CONCAT('"body": ', IFNULL(LENGTH(snapshot_row.`body`), 'null'))), '}'), '}}'))
FROM `docs` AS snapshot_row WHERE ((snapshot_row.`id` > %s)) AND ((snapshot_row.`id` <= %s)) AND 6 * IFNULL(LENGTH(snapshot_row.`body`), 0) <= 65006 ORDER BY snapshot_row.`id`;

-- one large row: measure
SELECT
  snapshot_row.`body` IS NULL, LENGTH(snapshot_row.`body`) DIV 1 + 2, IF(snapshot_row.`body` IS NULL OR LENGTH(snapshot_row.`body`) DIV 1 + 2 > 65006, NULL, JSON_QUOTE(CONVERT(snapshot_row.`body` USING utf8mb4) COLLATE utf8mb4_bin))
FROM `docs` AS snapshot_row WHERE snapshot_row.`id` = %s;

-- one large row: insert
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`)
SELECT 'docs',
  CRC32(CONCAT_WS(CHAR(31), 'docs', snapshot_row.`id`)),
  COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "docs", "op": "read", "event_type": "read", "aggregate_type": "", "aggregate_id": ', snapshot_row.`id`, ', "key": ', '{"id": ', snapshot_row.`id`, '}',
    ', "before": null, "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', snapshot_row.`id`), CONCAT('"body": ', NULLIF(@outbox_v1, ''))), '}'),
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ'), '", "version": "db0c4724f3"', ', "backfill": "7", "destination": "search"', IF(@outbox_v1 IS NULL, CONCAT(', "omitted": {"reason": "max_event_bytes", "limit": 65536', IF(@outbox_v1 IS NULL, CONCAT(', "after": {', CONCAT_WS(', ', IF(@outbox_v1 IS NULL, CONCAT('"body": ', LENGTH(snapshot_row.`body`)), NULL)), '}'), ''), '}'), ''), '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "docs", "op": "read", "event_type": "read", "aggregate_type": "", "aggregate_id": ', IFNULL(snapshot_row.`id`, 'null'), ', "key": ', IFNULL(CONCAT('{"id": ', snapshot_row.`id`, '}'), 'null'),
    ', "before": null, "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ'), '", "version": "db0c4724f3"', ', "backfill": "7", "destination": "search"', ', "omitted": {"reason": "capture_failed", "limit": 65536', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"id": ', IFNULL(LENGTH(snapshot_row.`id`), 'null')), CONCAT('"body": ', IFNULL(LENGTH(snapshot_row.`body`), 'null'))), '}'), '}}'))
FROM `docs` AS snapshot_row WHERE snapshot_row.`id` = %s;
