-- first chunk (locking read)
SELECT outbox_count, outbox_back, `order_id`, `line`, outbox_fits FROM (SELECT COUNT(*) OVER () AS outbox_count, ROW_NUMBER() OVER (ORDER BY `order_id` DESC, `line` DESC) AS outbox_back, `order_id`, `line`, outbox_fits FROM (SELECT snapshot_row.`order_id`, snapshot_row.`line`, TRUE AS outbox_fits FROM `order lines` AS snapshot_row ORDER BY snapshot_row.`order_id`, snapshot_row.`line` LIMIT %s FOR SHARE NOWAIT) AS outbox_chunk) AS outbox_counted WHERE MOD(outbox_back - 1, 1000) = 0 OR NOT outbox_fits ORDER BY outbox_back DESC;

-- next chunk (locking read), with --where
SELECT outbox_count, outbox_back, `order_id`, `line`, outbox_fits FROM (SELECT COUNT(*) OVER () AS outbox_count, ROW_NUMBER() OVER (ORDER BY `order_id` DESC, `line` DESC) AS outbox_back, `order_id`, `line`, outbox_fits FROM (SELECT snapshot_row.`order_id`, snapshot_row.`line`, TRUE AS outbox_fits FROM `order lines` AS snapshot_row WHERE ((snapshot_row.`order_id` > %s) OR (snapshot_row.`order_id` = %s AND snapshot_row.`line` > %s)) AND (qty > 0
) ORDER BY snapshot_row.`order_id`, snapshot_row.`line` LIMIT %s FOR SHARE NOWAIT) AS outbox_chunk) AS outbox_counted WHERE MOD(outbox_back - 1, 1000) = 0 OR NOT outbox_fits ORDER BY outbox_back DESC;

-- one-row chunk (a locking read that waits)
SELECT outbox_count, outbox_back, `order_id`, `line`, outbox_fits FROM (SELECT COUNT(*) OVER () AS outbox_count, ROW_NUMBER() OVER (ORDER BY `order_id` DESC, `line` DESC) AS outbox_back, `order_id`, `line`, outbox_fits FROM (SELECT snapshot_row.`order_id`, snapshot_row.`line`, TRUE AS outbox_fits FROM `order lines` AS snapshot_row WHERE ((snapshot_row.`order_id` > %s) OR (snapshot_row.`order_id` = %s AND snapshot_row.`line` > %s)) ORDER BY snapshot_row.`order_id`, snapshot_row.`line` LIMIT %s FOR SHARE) AS outbox_chunk) AS outbox_counted WHERE MOD(outbox_back - 1, 1000) = 0 OR NOT outbox_fits ORDER BY outbox_back DESC;

-- chunk insert
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`)
SELECT 'order lines',
  CRC32(CONCAT_WS(CHAR(31), 'order lines', snapshot_row.`order_id`, CAST(snapshot_row.`line` AS BINARY))),
  COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "order lines", "op": "read", "event_type": "read", "aggregate_type": "", "aggregate_id": ', CONCAT('{"order_id": ', snapshot_row.`order_id`, ', "line": ', JSON_QUOTE(CONVERT(snapshot_row.`line` USING utf8mb4) COLLATE utf8mb4_bin), '}'), ', "key": ', '{"order_id": ', snapshot_row.`order_id`, ', "line": ', JSON_QUOTE(CONVERT(snapshot_row.`line` USING utf8mb4) COLLATE utf8mb4_bin), '}',
    ', "before": null, "after": ', '{"order_id": ', snapshot_row.`order_id`, ', "line": ', JSON_QUOTE(CONVERT(snapshot_row.`line` USING utf8mb4) COLLATE utf8mb4_bin), ', "qty": ', IFNULL(snapshot_row.`qty`, 'null'), '}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ'), '", "version": "2c01ea1cad"', ', "backfill": "7"', '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "order lines", "op": "read", "event_type": "read", "aggregate_type": "", "aggregate_id": ', IFNULL(CONCAT('{"order_id": ', snapshot_row.`order_id`, ', "line": ', JSON_QUOTE(CONVERT(snapshot_row.`line` USING utf8mb4) COLLATE utf8mb4_bin), '}'), 'null'), ', "key": ', IFNULL(CONCAT('{"order_id": ', snapshot_row.`order_id`, ', "line": ', JSON_QUOTE(CONVERT(snapshot_row.`line` USING utf8mb4) COLLATE utf8mb4_bin), '}'), 'null'),
    ', "before": null, "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ'), '", "version": "2c01ea1cad"', ', "backfill": "7"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"order_id": ', IFNULL(LENGTH(snapshot_row.`order_id`), 'null')), CONCAT('"line": ', IFNULL(LENGTH(snapshot_row.`line`), 'null')), CONCAT('"qty": ', IFNULL(LENGTH(snapshot_row.`qty`), 'null'))), '}'), '}}'))
FROM `order lines` AS snapshot_row WHERE ((snapshot_row.`order_id` > %s) OR (snapshot_row.`order_id` = %s AND snapshot_row.`line` > %s)) AND ((snapshot_row.`order_id` < %s) OR (snapshot_row.`order_id` = %s AND snapshot_row.`line` <= %s)) AND TRUE ORDER BY snapshot_row.`order_id`, snapshot_row.`line`;

-- one large row: measure
SELECT
FROM `order lines` AS snapshot_row WHERE snapshot_row.`order_id` = %s AND snapshot_row.`line` = %s;

-- one large row: insert
INSERT INTO `outbox_events` (`table_name`, `key_hash`, `payload`)
SELECT 'order lines',
  CRC32(CONCAT_WS(CHAR(31), 'order lines', snapshot_row.`order_id`, CAST(snapshot_row.`line` AS BINARY))),
  COALESCE(CONCAT(
    '{"id": "', UUID(), '", "table": "order lines", "op": "read", "event_type": "read", "aggregate_type": "", "aggregate_id": ', CONCAT('{"order_id": ', snapshot_row.`order_id`, ', "line": ', JSON_QUOTE(CONVERT(snapshot_row.`line` USING utf8mb4) COLLATE utf8mb4_bin), '}'), ', "key": ', '{"order_id": ', snapshot_row.`order_id`, ', "line": ', JSON_QUOTE(CONVERT(snapshot_row.`line` USING utf8mb4) COLLATE utf8mb4_bin), '}',
    ', "before": null, "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"order_id": ', snapshot_row.`order_id`), CONCAT('"line": ', JSON_QUOTE(CONVERT(snapshot_row.`line` USING utf8mb4) COLLATE utf8mb4_bin)), CONCAT('"qty": ', IFNULL(snapshot_row.`qty`, 'null'))), '}'),
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ'), '", "version": "2c01ea1cad"', ', "backfill": "7"', IF(, CONCAT(', "omitted": {"reason": "max_event_bytes", "limit": 1044480', '}'), ''), '}'), CONCAT(
    '{"id": "', UUID(), '", "table": "order lines", "op": "read", "event_type": "read", "aggregate_type": "", "aggregate_id": ', IFNULL(CONCAT('{"order_id": ', snapshot_row.`order_id`, ', "line": ', JSON_QUOTE(CONVERT(snapshot_row.`line` USING utf8mb4) COLLATE utf8mb4_bin), '}'), 'null'), ', "key": ', IFNULL(CONCAT('{"order_id": ', snapshot_row.`order_id`, ', "line": ', JSON_QUOTE(CONVERT(snapshot_row.`line` USING utf8mb4) COLLATE utf8mb4_bin), '}'), 'null'),
    ', "before": null, "after": ', '{}',
    ', "ts": "', DATE_FORMAT(UTC_TIMESTAMP(6), '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ'), '", "version": "2c01ea1cad"', ', "backfill": "7"', ', "omitted": {"reason": "capture_failed", "limit": 1044480', ', "after": ', CONCAT('{', CONCAT_WS(', ', CONCAT('"order_id": ', IFNULL(LENGTH(snapshot_row.`order_id`), 'null')), CONCAT('"line": ', IFNULL(LENGTH(snapshot_row.`line`), 'null')), CONCAT('"qty": ', IFNULL(LENGTH(snapshot_row.`qty`), 'null'))), '}'), '}}'))
FROM `order lines` AS snapshot_row WHERE snapshot_row.`order_id` = %s AND snapshot_row.`line` = %s;
