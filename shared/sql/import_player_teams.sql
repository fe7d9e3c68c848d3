-- After an import of game logs: each of @player_ids plays for the team of their latest game log in
-- the warehouse (the slate's rosters come from players.team_id). Idempotent, and the same whatever
-- order seasons were imported in.
-- params: player_ids ARRAY<INT64>
UPDATE players AS p
SET team_id = latest.team_id
FROM (
  SELECT player_id, team_id
  FROM player_game_logs
  WHERE player_id IN UNNEST(@player_ids)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY player_id ORDER BY game_date DESC, game_id DESC) = 1
) AS latest
WHERE p.player_id = latest.player_id
  AND (p.team_id IS NULL OR p.team_id != latest.team_id)
