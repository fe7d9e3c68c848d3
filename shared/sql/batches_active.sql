-- Batches that still expect work (POST /batches/check-stalls looks at each of them).
-- params:
SELECT batch_id, game_date, status, expected, published, skipped, load_metrics_json, error,
       superseded_by, created_at, updated_at, finished_at, players_json
FROM batches
WHERE status IN ('loading', 'publishing', 'running')
ORDER BY created_at, batch_id
