-- The current daily summary of a date: the one written by its latest grading run.
-- params: game_date DATE
SELECT grading_run_id, game_date, graded_at, summary_json
FROM grading_summaries
WHERE game_date = @game_date
ORDER BY graded_at DESC, grading_run_id DESC
LIMIT 1
