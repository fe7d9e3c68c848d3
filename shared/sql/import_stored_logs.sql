-- Before an import of game logs writes anything: the stored box scores it must agree with — the
-- rows of @game_ids (an incoming row must equal the stored row of its key) and every row on
-- @game_dates (one game per player and per team a day). After the load, called with the touched
-- @game_ids and no dates: the rows team_game_stats is recomputed from.
-- params: game_ids ARRAY<STRING>, game_dates ARRAY<DATE>
SELECT *
FROM player_game_logs
WHERE game_id IN UNNEST(@game_ids) OR game_date IN UNNEST(@game_dates)
