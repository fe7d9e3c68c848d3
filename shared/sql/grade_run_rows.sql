-- The rows one grading run wrote for its date, whichever run is the date's latest by now: a run's
-- summary is computed from its own rows, so a concurrent grader whose run lands between this run's
-- INSERT and this read (and so becomes the latest, hiding this one from the graded_predictions
-- view) cannot empty it. The game_date filter lets the partitioned table prune.
-- params: game_date DATE, grading_run_id STRING
SELECT
  grading_run_id, prediction_id, batch_id, game_date, game_id, player_id, player_name, team_abbr,
  opponent_abbr, recommendation, line, bookmaker, over_price, under_price, predicted_points, edge,
  confidence, prob_over, model_version, actual_points, actual_minutes, result, void_reason, error,
  abs_error, line_error, profit_units, graded_at
FROM graded_predictions_raw
WHERE game_date = @game_date AND grading_run_id = @grading_run_id
ORDER BY player_name, prediction_id
