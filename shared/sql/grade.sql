-- Grades one night in one statement: the night's current predictions (the `predictions` view) joined
-- with the box scores, written as a new grading run of graded_predictions_raw (one row per
-- prediction; the graded_predictions view shows the latest run of each date).
--   * void: the game has no box scores at all (results_missing), or the player has no row in it or
--     played 0 minutes (DNP); void rows carry no actual and no error.
--   * OVER/UNDER: correct, incorrect, or push when the actual equals the line (no decision).
--   * PASS (no_pick) and NO_LINE (no_line): graded for error only.
-- When two batches of the date both hold a prediction for a player (a failed batch followed by a
-- new one), the newest batch's prediction is graded. Profit is per unit staked at the price stored
-- with the prediction: a win at -120 pays 100/120, at +150 pays 1.5; a loss costs 1; a push 0. A
-- stored price that is not American odds (strictly between -100 and +100) counts as no price.
-- params: game_date DATE, grading_run_id STRING, now TIMESTAMP
INSERT INTO graded_predictions_raw (
  grading_run_id, prediction_id, batch_id, game_date, game_id, player_id, player_name, team_abbr,
  opponent_abbr, recommendation, line, bookmaker, over_price, under_price, predicted_points, edge,
  confidence, prob_over, model_version, actual_points, actual_minutes, result, void_reason, error,
  abs_error, line_error, profit_units, graded_at
)
WITH night AS (
  SELECT
    p.prediction_id, p.batch_id, p.game_date, p.game_id, p.player_id, p.player_name, p.team_abbr,
    p.opponent_abbr, p.recommendation, p.line, p.bookmaker, p.over_price, p.under_price,
    p.predicted_points, p.edge, p.confidence, p.prob_over, p.model_version
  FROM predictions AS p
  JOIN batches AS b ON b.batch_id = p.batch_id
  WHERE p.game_date = @game_date
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY p.game_id, p.player_id ORDER BY b.created_at DESC, p.written_at DESC, p.prediction_id
  ) = 1
),
box AS (
  SELECT game_id, player_id, MAX(minutes) AS minutes, MAX(points) AS points
  FROM player_game_logs
  WHERE game_date = @game_date
  GROUP BY game_id, player_id
),
played_games AS (
  SELECT DISTINCT game_id
  FROM player_game_logs
  WHERE game_date = @game_date
),
judged AS (
  SELECT
    n.*,
    x.minutes AS box_minutes,
    CASE
      WHEN pg.game_id IS NULL THEN 'results_missing'
      WHEN x.player_id IS NULL THEN 'dnp_no_box_score'
      WHEN x.minutes <= 0 THEN 'dnp_zero_minutes'
    END AS void_reason,
    x.points AS box_points
  FROM night AS n
  LEFT JOIN box AS x ON x.game_id = n.game_id AND x.player_id = n.player_id
  LEFT JOIN played_games AS pg ON pg.game_id = n.game_id
),
resulted AS (
  SELECT
    j.*,
    CASE WHEN j.void_reason IS NULL THEN j.box_points END AS actual_points,
    CASE
      WHEN j.void_reason IS NOT NULL THEN 'void'
      WHEN j.line IS NULL OR j.recommendation = 'NO_LINE' THEN 'no_line'
      WHEN j.recommendation NOT IN ('OVER', 'UNDER') THEN 'no_pick'
      WHEN j.box_points = j.line THEN 'push'
      WHEN (j.recommendation = 'OVER' AND j.box_points > j.line)
        OR (j.recommendation = 'UNDER' AND j.box_points < j.line) THEN 'correct'
      ELSE 'incorrect'
    END AS result,
    -- A price between -100 and +100 (0, -50) is not American odds (shared/lines.py's
    -- is_american_odds, the same rule): no price, so no profit.
    CASE
      WHEN j.recommendation = 'OVER' AND ABS(j.over_price) >= 100 THEN j.over_price
      WHEN j.recommendation = 'UNDER' AND ABS(j.under_price) >= 100 THEN j.under_price
    END AS pick_price
  FROM judged AS j
)
SELECT
  @grading_run_id,
  prediction_id,
  batch_id,
  game_date,
  game_id,
  player_id,
  player_name,
  team_abbr,
  opponent_abbr,
  recommendation,
  line,
  bookmaker,
  over_price,
  under_price,
  predicted_points,
  edge,
  confidence,
  prob_over,
  model_version,
  actual_points,
  CASE WHEN void_reason IS NULL OR void_reason = 'dnp_zero_minutes' THEN box_minutes END,
  result,
  void_reason,
  predicted_points - actual_points,
  ABS(predicted_points - actual_points),
  line - actual_points,
  CASE
    WHEN result = 'push' THEN 0.0
    WHEN pick_price IS NULL THEN NULL
    WHEN result = 'incorrect' THEN -1.0
    WHEN result = 'correct' AND pick_price < 0 THEN 100.0 / -pick_price
    WHEN result = 'correct' THEN pick_price / 100.0
  END,
  @now
FROM resulted
