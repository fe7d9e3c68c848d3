-- Before an injury import writes anything: the stored entries of @game_ids, which an incoming entry
-- of the same key must equal.
-- params: game_ids ARRAY<STRING>
SELECT game_id, player_id, reported_at, status, reason
FROM injury_reports
WHERE game_id IN UNNEST(@game_ids)
