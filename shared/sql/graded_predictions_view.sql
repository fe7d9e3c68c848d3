-- The current grades: for every game date only its latest grading run, one row per prediction.
-- Re-grading a date appends a whole new run (grade.sql, one INSERT ... SELECT) and this view switches
-- to it at once, so readers never see a night twice or half-replaced, and no DELETE is needed.
-- Partitioning the windows by game_date lets a game_date filter prune.
-- params:
SELECT g.*
FROM graded_predictions_raw AS g
QUALIFY g.grading_run_id = FIRST_VALUE(g.grading_run_id) OVER (
    PARTITION BY g.game_date ORDER BY g.graded_at DESC, g.grading_run_id DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
  )
  AND ROW_NUMBER() OVER (
    PARTITION BY g.game_date, g.grading_run_id, g.prediction_id ORDER BY g.graded_at
  ) = 1
