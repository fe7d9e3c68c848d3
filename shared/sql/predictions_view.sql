-- The predictions consumers read: one row per prediction id (redeliveries collapse), and never rows
-- of a superseded batch. Partitioning the window by game_date lets a game_date filter prune.
-- params:
SELECT r.*
FROM predictions_raw AS r
JOIN batches AS b ON b.batch_id = r.batch_id
WHERE b.status <> 'superseded'
QUALIFY ROW_NUMBER() OVER (PARTITION BY r.game_date, r.prediction_id ORDER BY r.written_at) = 1
