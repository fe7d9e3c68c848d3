-- Progress of one batch counted from what is really in the warehouse: a player is completed when a
-- prediction row exists, otherwise failed or skipped when an outcome row says so. A player whose
-- message was lost (publish_failed, missing) and then re-sent by a resume (resent) is in flight again,
-- so counts as neither until its prediction or a new failure lands: a loss counts when it is newer
-- than the player's latest re-send. last_activity is the latest write of the batch's workers and
-- transport; the coordinator compares it with NBA_PROPS_STALL_AFTER_S. Only @player_ids, the players
-- the batch expects, count: a row naming anyone else (a forged or corrupted message) must not bring
-- the batch closer to complete.
-- params: batch_id STRING, game_date DATE, player_ids ARRAY<INT64>
WITH done AS (
  SELECT player_id, MAX(written_at) AS written_at
  FROM predictions_raw
  WHERE game_date = @game_date AND batch_id = @batch_id AND player_id IN UNNEST(@player_ids)
  GROUP BY player_id
),
outcomes AS (
  SELECT
    player_id,
    LOGICAL_OR(outcome IN ('failed', 'dead_lettered')) AS rejected,
    MAX(IF(outcome IN ('publish_failed', 'missing'), recorded_at, NULL)) AS lost_at,
    MAX(IF(outcome = 'resent', recorded_at, NULL)) AS resent_at,
    LOGICAL_OR(outcome = 'skipped') AS skipped
  FROM player_outcomes
  WHERE batch_id = @batch_id AND player_id IN UNNEST(@player_ids)
  GROUP BY player_id
),
open_outcomes AS (
  SELECT
    o.rejected,
    o.lost_at IS NOT NULL AND (o.resent_at IS NULL OR o.lost_at > o.resent_at) AS lost,
    o.lost_at IS NOT NULL AS ever_lost,
    o.skipped
  FROM outcomes AS o
  LEFT JOIN done AS d ON d.player_id = o.player_id
  WHERE d.player_id IS NULL
)
SELECT
  (SELECT COUNT(*) FROM done) AS completed,
  (SELECT COUNT(*) FROM open_outcomes WHERE rejected OR lost) AS failed,
  (SELECT COUNT(*) FROM open_outcomes WHERE skipped AND NOT rejected AND NOT ever_lost) AS skipped,
  (SELECT MAX(written_at) FROM done) AS last_prediction_at,
  (SELECT MAX(recorded_at) FROM player_outcomes WHERE batch_id = @batch_id) AS last_outcome_at
