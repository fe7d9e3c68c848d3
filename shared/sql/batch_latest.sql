-- The most recent batch, optionally for one game date (pass NULL for any date).
-- params: game_date DATE
SELECT batch_id, game_date, status, expected, published, skipped, load_metrics_json, error,
       superseded_by, created_at, updated_at, finished_at, players_json
FROM batches
WHERE @game_date IS NULL OR game_date = @game_date
ORDER BY created_at DESC, batch_id DESC
LIMIT 1
