-- What is known about each player of a batch: 'predicted', or each outcome recorded for it, with the
-- time of its latest record. Finalizing and resuming compare it with the slate to find who is
-- missing and who must be sent again.
-- params: batch_id STRING, game_date DATE
SELECT player_id, 'predicted' AS result, MAX(written_at) AS latest_at
FROM predictions_raw
WHERE game_date = @game_date AND batch_id = @batch_id
GROUP BY player_id
UNION ALL
SELECT player_id, outcome AS result, MAX(recorded_at) AS latest_at
FROM player_outcomes
WHERE batch_id = @batch_id AND player_id IS NOT NULL
GROUP BY player_id, outcome
