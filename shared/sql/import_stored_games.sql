-- Before an import writes anything: the stored games it must agree with or attach rows to — the
-- games of @game_ids and every game on @game_dates.
-- params: game_ids ARRAY<STRING>, game_dates ARRAY<DATE>
SELECT game_id, game_date, tipoff_utc, home_team_id, away_team_id, season, phase
FROM schedule
WHERE game_id IN UNNEST(@game_ids) OR game_date IN UNNEST(@game_dates)
