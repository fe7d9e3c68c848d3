-- The predictions of one batch, for the operator's table and reports.
-- params: batch_id STRING, game_date DATE
SELECT prediction_id, player_id, player_name, team_abbr, opponent_abbr, line, bookmaker,
       predicted_points, edge, recommendation, confidence, prob_over, model_version
FROM predictions
WHERE game_date = @game_date AND batch_id = @batch_id
ORDER BY
  CASE recommendation WHEN 'OVER' THEN 0 WHEN 'UNDER' THEN 0 WHEN 'PASS' THEN 1 ELSE 2 END,
  confidence DESC,
  predicted_points DESC,
  player_name
