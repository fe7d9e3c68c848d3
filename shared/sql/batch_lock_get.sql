-- The claim on a game date: which generation of batch owns it. Duplicate rows (possible on BigQuery,
-- which enforces no keys) carry the same generation after any successful claim.
-- params: game_date DATE
SELECT generation, batch_id, claimed_at
FROM batch_locks
WHERE game_date = @game_date
ORDER BY generation DESC, batch_id
LIMIT 1
