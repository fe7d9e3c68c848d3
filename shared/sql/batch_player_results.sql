-- What is known about each player of a batch: 'predicted', or the outcomes recorded for it. Finalizing
-- and resuming compare it with the slate to find who is missing and who must be sent again.
-- params: batch_id STRING, game_date DATE
SELECT player_id, 'predicted' AS result
FROM predictions_raw
WHERE game_date = @game_date AND batch_id = @batch_id
UNION DISTINCT
SELECT player_id, outcome AS result
FROM player_outcomes
WHERE batch_id = @batch_id AND player_id IS NOT NULL
