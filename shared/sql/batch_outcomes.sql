-- The players of a batch that ended without a prediction, with the reason.
-- params: batch_id STRING
SELECT player_id, outcome, reason, detail, message_id, recorded_at
FROM player_outcomes
WHERE batch_id = @batch_id
QUALIFY ROW_NUMBER() OVER (PARTITION BY player_id, outcome ORDER BY recorded_at) = 1
ORDER BY outcome, player_id
