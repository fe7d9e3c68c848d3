-- Graded rows of a date range: every date's latest run (the graded_predictions view), except that
-- with @grading_run_id set, @end_date's rows are that run's own, whichever run is the date's latest
-- by now. A run's summary is computed from its own rows, so a concurrent grader whose run lands
-- between this run's INSERT and this read cannot empty it. NULL @grading_run_id: the view only.
-- params: start_date DATE, end_date DATE, grading_run_id STRING
WITH rows AS (
  SELECT *
  FROM graded_predictions
  WHERE game_date BETWEEN @start_date AND @end_date
    AND (@grading_run_id IS NULL OR game_date < @end_date)
  UNION ALL
  SELECT *
  FROM graded_predictions_raw
  WHERE game_date = @end_date AND grading_run_id = @grading_run_id
)
SELECT
  grading_run_id, prediction_id, batch_id, game_date, game_id, player_id, player_name, team_abbr,
  opponent_abbr, recommendation, line, bookmaker, over_price, under_price, predicted_points, edge,
  confidence, prob_over, model_version, actual_points, actual_minutes, result, void_reason, error,
  abs_error, line_error, profit_units, graded_at
FROM rows
ORDER BY game_date, player_name, prediction_id
