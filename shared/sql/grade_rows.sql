-- The current grades of a date range (the graded_predictions view: each date's latest run), for the
-- daily summary, the 7-day hit rate and the report.
-- params: start_date DATE, end_date DATE
SELECT
  grading_run_id, prediction_id, batch_id, game_date, game_id, player_id, player_name, team_abbr,
  opponent_abbr, recommendation, line, bookmaker, over_price, under_price, predicted_points, edge,
  confidence, prob_over, model_version, actual_points, actual_minutes, result, void_reason, error,
  abs_error, line_error, profit_units, graded_at
FROM graded_predictions
WHERE game_date BETWEEN @start_date AND @end_date
ORDER BY game_date, player_name, prediction_id
