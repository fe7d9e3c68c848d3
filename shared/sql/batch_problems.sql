-- The players of a batch still without a prediction because something went wrong, with the reason:
-- rejected (failed), dead-lettered, never published (publish_failed) or finalized as missing. A player
-- that has since got a prediction is no longer a problem, nor is a lost message that a resume re-sent
-- afterwards (a loss recorded after the latest re-send is one again). Each reason once per player,
-- its latest record.
-- params: batch_id STRING, game_date DATE
WITH done AS (
  SELECT DISTINCT player_id
  FROM predictions_raw
  WHERE game_date = @game_date AND batch_id = @batch_id
),
resent AS (
  SELECT player_id, MAX(recorded_at) AS resent_at
  FROM player_outcomes
  WHERE batch_id = @batch_id AND outcome = 'resent' AND player_id IS NOT NULL
  GROUP BY player_id
)
SELECT o.player_id, o.outcome, o.reason, o.detail, o.message_id, o.recorded_at
FROM player_outcomes AS o
LEFT JOIN resent AS r ON r.player_id = o.player_id
WHERE o.batch_id = @batch_id
  AND o.outcome NOT IN ('skipped', 'resent')
  AND (o.player_id IS NULL OR o.player_id NOT IN (SELECT player_id FROM done))
  AND NOT (
    o.outcome IN ('publish_failed', 'missing')
    AND r.resent_at IS NOT NULL
    AND o.recorded_at <= r.resent_at
  )
QUALIFY ROW_NUMBER() OVER (PARTITION BY o.player_id, o.outcome ORDER BY o.recorded_at DESC) = 1
ORDER BY o.outcome, o.player_id
