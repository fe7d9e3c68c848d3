-- The most recent batch of a night that had games (GET /status without an id): a `no_games` batch
-- is not the night an operator asks about.
-- params:
SELECT batch_id, game_date, status, expected, published, skipped, load_metrics_json, error,
       superseded_by, created_at, updated_at, finished_at, players_json
FROM batches
WHERE status != 'no_games'
ORDER BY created_at DESC, batch_id DESC
LIMIT 1
