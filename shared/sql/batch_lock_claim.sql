-- Compare-and-swap: move the date's claim from generation @expected to @expected + 1. Updates on one
-- table are serialized by both BigQuery and DuckDB, so of N concurrent claims exactly one changes
-- rows; the others see the new generation and change none (the caller reads the affected-row count).
-- params: game_date DATE, expected INT64, batch_id STRING, now TIMESTAMP
UPDATE batch_locks
SET generation = @expected + 1, batch_id = @batch_id, claimed_at = @now
WHERE game_date = @game_date AND generation = @expected
