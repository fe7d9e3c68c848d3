-- Creates the claim row of a game date at generation 0 (no batch yet). Idempotent: a duplicate row
-- at generation 0 is harmless, because claiming updates every row of the date at once.
-- params: game_date DATE, now TIMESTAMP
INSERT INTO batch_locks (game_date, generation, batch_id, claimed_at)
SELECT @game_date, 0, CAST(NULL AS STRING), @now
FROM (SELECT 1 AS one) AS seed
WHERE NOT EXISTS (SELECT 1 FROM batch_locks WHERE game_date = @game_date)
