-- params: batch_id STRING
SELECT batch_id, game_date, status, expected, published, skipped, load_metrics_json, error,
       superseded_by, created_at, updated_at, finished_at, players_json
FROM batches
WHERE batch_id = @batch_id
