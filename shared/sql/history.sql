-- The last @max_games games of every slate player strictly before @game_date, in one query.
-- The lower date bound lets BigQuery prune partitions instead of scanning all history.
-- params: game_date DATE, history_start DATE, player_ids ARRAY<INT64>, max_games INT64
SELECT
  player_id,
  game_date,
  season,
  opponent_team_id,
  is_home,
  minutes,
  points,
  fga,
  fg3m,
  fg3a,
  ftm,
  fta,
  tov,
  points_paint,
  points_mid_range
FROM player_game_logs
WHERE player_id IN UNNEST(@player_ids)
  AND game_date < @game_date
  AND game_date >= @history_start
QUALIFY ROW_NUMBER() OVER (PARTITION BY player_id ORDER BY game_date DESC) <= @max_games
ORDER BY player_id, game_date
