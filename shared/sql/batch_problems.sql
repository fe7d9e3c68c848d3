-- The players of a batch still without a prediction because something went wrong, with the reason:
-- rejected (failed), dead-lettered, never published (publish_failed) or finalized as missing. A player
-- that has since got a prediction is no longer a problem, nor is a lost message a resume re-sent.
-- params: batch_id STRING, game_date DATE
WITH done AS (
  SELECT DISTINCT player_id
  FROM predictions_raw
  WHERE game_date = @game_date AND batch_id = @batch_id
),
resent AS (
  SELECT DISTINCT player_id
  FROM player_outcomes
  WHERE batch_id = @batch_id AND outcome = 'resent' AND player_id IS NOT NULL
)
SELECT player_id, outcome, reason, detail, message_id, recorded_at
FROM player_outcomes
WHERE batch_id = @batch_id
  AND outcome NOT IN ('skipped', 'resent')
  AND (player_id IS NULL OR player_id NOT IN (SELECT player_id FROM done))
  AND NOT (
    outcome IN ('publish_failed', 'missing')
    AND player_id IS NOT NULL
    AND player_id IN (SELECT player_id FROM resent)
  )
QUALIFY ROW_NUMBER() OVER (PARTITION BY player_id, outcome ORDER BY recorded_at) = 1
ORDER BY outcome, player_id
