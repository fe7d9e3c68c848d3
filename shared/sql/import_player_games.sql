-- The team each of @player_ids played for on each of @game_dates, from the stored box scores: which
-- game a line or an injury entry of that player and date belongs to.
-- params: player_ids ARRAY<INT64>, game_dates ARRAY<DATE>
SELECT player_id, game_date, team_id
FROM player_game_logs
WHERE player_id IN UNNEST(@player_ids) AND game_date IN UNNEST(@game_dates)
