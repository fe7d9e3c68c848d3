-- Progress of one batch counted from what is really in the warehouse: a player is completed when a
-- prediction row exists, otherwise failed or skipped when an outcome row says so.
-- params: batch_id STRING, game_date DATE
WITH done AS (
  SELECT DISTINCT player_id
  FROM predictions_raw
  WHERE game_date = @game_date AND batch_id = @batch_id
),
outcomes AS (
  SELECT player_id, MIN(outcome) AS outcome
  FROM player_outcomes
  WHERE batch_id = @batch_id AND player_id IS NOT NULL
  GROUP BY player_id
)
SELECT
  (SELECT COUNT(*) FROM done) AS completed,
  (SELECT COUNT(*) FROM outcomes AS o
     WHERE o.outcome IN ('dead_lettered', 'failed', 'publish_failed')
       AND o.player_id NOT IN (SELECT player_id FROM done)) AS failed,
  (SELECT COUNT(*) FROM outcomes AS o
     WHERE o.outcome = 'skipped' AND o.player_id NOT IN (SELECT player_id FROM done)) AS skipped
