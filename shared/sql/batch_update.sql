-- Moves a batch on. NULL arguments keep the current value. A superseded batch stays superseded
-- (a coordinator still working on it must not bring it back), and with @from_status set the change
-- applies only while the batch is in that status: a compare-and-swap (the affected row count tells).
-- params: batch_id STRING, status STRING, expected INT64, published INT64, skipped INT64, load_metrics_json STRING, error STRING, superseded_by STRING, players_json STRING, finished_at TIMESTAMP, now TIMESTAMP, from_status STRING
UPDATE batches
SET status = IF(status = 'superseded', status, COALESCE(@status, status)),
    expected = COALESCE(@expected, expected),
    published = COALESCE(@published, published),
    skipped = COALESCE(@skipped, skipped),
    load_metrics_json = COALESCE(@load_metrics_json, load_metrics_json),
    error = COALESCE(@error, error),
    superseded_by = COALESCE(@superseded_by, superseded_by),
    players_json = COALESCE(@players_json, players_json),
    finished_at = COALESCE(@finished_at, finished_at),
    updated_at = @now
WHERE batch_id = @batch_id AND (@from_status IS NULL OR status = @from_status)
