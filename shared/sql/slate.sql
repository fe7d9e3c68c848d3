-- Every rostered player of every team playing on @game_date, with the game's context as of before
-- tip-off: season-to-date team and opponent aggregates strictly before @game_date, days of rest and
-- the latest injury-report entry. One row per player. Also the inputs of the context features
-- (shared/context_features.py): the team's schedule from 21 days before to 14 days after with each
-- game's arena, the opponent's pace over its last 10 games and FT rate allowed, and the next
-- opponent's win rate before @game_date. Keep in step with training_context.sql (the parity test).
-- Injury reports count up to tip-off or, without a tip-off time, up to 16:00 UTC on the game date
-- (lines.sql has the rule and why).
-- params: game_date DATE
WITH games AS (
  SELECT game_id, game_date, tipoff_utc, season, phase, home_team_id, away_team_id
  FROM schedule
  WHERE game_date = @game_date
),
sides AS (
  SELECT game_id, game_date, tipoff_utc, season, phase,
         home_team_id AS team_id, away_team_id AS opponent_team_id, TRUE AS is_home
  FROM games
  UNION ALL
  SELECT game_id, game_date, tipoff_utc, season, phase,
         away_team_id AS team_id, home_team_id AS opponent_team_id, FALSE AS is_home
  FROM games
),
form AS (
  SELECT s.team_id,
         AVG(t.pace) AS pace,
         100 * SUM(t.points) / NULLIF(SUM(t.possessions), 0) AS off_rating,
         100 * SUM(t.opp_points) / NULLIF(SUM(t.opp_possessions), 0) AS def_rating,
         AVG(CASE WHEN t.won THEN 1.0 ELSE 0.0 END) AS win_pct,
         SUM(t.opp_points_paint) / NULLIF(SUM(CASE WHEN t.opp_points_paint IS NOT NULL THEN t.opp_points END), 0)
           AS paint_share_allowed,
         SUM(t.opp_points_mid_range)
           / NULLIF(SUM(CASE WHEN t.opp_points_mid_range IS NOT NULL THEN t.opp_points END), 0)
           AS mid_share_allowed,
         SUM(t.opp_points_three) / NULLIF(SUM(t.opp_points), 0) AS three_share_allowed,
         SUM(t.opp_fta) / NULLIF(SUM(t.opp_fga), 0) AS ft_rate_allowed
  FROM sides AS s
  JOIN team_game_stats AS t
    ON t.team_id = s.team_id AND t.season = s.season AND t.game_date < @game_date
  GROUP BY s.team_id
),
last_played AS (
  SELECT s.team_id, MAX(g.game_date) AS last_game_date
  FROM sides AS s
  JOIN schedule AS g
    ON (g.home_team_id = s.team_id OR g.away_team_id = s.team_id)
   AND g.game_date < @game_date
   AND g.game_date >= DATE_SUB(@game_date, INTERVAL 30 DAY)
  GROUP BY s.team_id
),
recent_pace AS (
  SELECT team_id, AVG(pace) AS pace_last_10
  FROM (
    SELECT t.team_id, t.pace
    FROM sides AS s
    JOIN team_game_stats AS t
      ON t.team_id = s.team_id AND t.season = s.season AND t.game_date < @game_date
    QUALIFY ROW_NUMBER() OVER (PARTITION BY t.team_id ORDER BY t.game_date DESC) <= 10
  )
  GROUP BY team_id
),
team_games AS (
  SELECT s.team_id,
         ARRAY_AGG(
           STRUCT(
             g.game_date AS game_date,
             g.tipoff_utc AS tipoff_utc,
             g.home_team_id = s.team_id AS is_home,
             arena.arena_lat AS arena_lat,
             arena.arena_lon AS arena_lon,
             arena.time_zone AS time_zone
           )
           ORDER BY g.game_date
         ) AS games
  FROM sides AS s
  JOIN schedule AS g
    ON (g.home_team_id = s.team_id OR g.away_team_id = s.team_id)
   AND g.game_date BETWEEN DATE_SUB(@game_date, INTERVAL 21 DAY) AND DATE_ADD(@game_date, INTERVAL 14 DAY)
  JOIN teams AS arena ON arena.team_id = g.home_team_id
  GROUP BY s.team_id
),
next_game AS (
  SELECT s.team_id, s.season,
         CASE WHEN g.home_team_id = s.team_id THEN g.away_team_id ELSE g.home_team_id END AS opponent_team_id
  FROM sides AS s
  JOIN schedule AS g
    ON (g.home_team_id = s.team_id OR g.away_team_id = s.team_id)
   AND g.game_date > @game_date
   AND g.game_date <= DATE_ADD(@game_date, INTERVAL 14 DAY)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY s.team_id ORDER BY g.game_date, g.game_id) = 1
),
next_opponent AS (
  SELECT n.team_id, AVG(CASE WHEN t.won THEN 1.0 ELSE 0.0 END) AS win_pct
  FROM next_game AS n
  JOIN team_game_stats AS t
    ON t.team_id = n.opponent_team_id AND t.season = n.season AND t.game_date < @game_date
  GROUP BY n.team_id
),
injuries AS (
  SELECT i.player_id, i.status, i.reason
  FROM injury_reports AS i
  JOIN games AS g ON g.game_id = i.game_id
  WHERE i.game_date = @game_date
    AND i.reported_at < COALESCE(g.tipoff_utc, TIMESTAMP(DATETIME(g.game_date, TIME(16, 0, 0)), 'UTC'))
  QUALIFY ROW_NUMBER() OVER (PARTITION BY i.player_id ORDER BY i.reported_at DESC) = 1
)
SELECT
  p.player_id,
  p.name AS player_name,
  p.birth_date,
  s.game_id,
  s.game_date,
  s.tipoff_utc,
  s.season,
  s.phase,
  s.team_id,
  team.abbreviation AS team_abbr,
  s.opponent_team_id,
  opp.abbreviation AS opponent_abbr,
  s.is_home,
  tf.pace AS team_pace,
  tf.off_rating AS team_off_rating,
  tf.win_pct AS team_win_pct,
  DATE_DIFF(@game_date, tl.last_game_date, DAY) AS team_rest_days,
  ofm.def_rating AS opponent_def_rating,
  ofm.pace AS opponent_pace,
  DATE_DIFF(@game_date, ol.last_game_date, DAY) AS opponent_rest_days,
  ofm.paint_share_allowed AS opponent_paint_share_allowed,
  ofm.mid_share_allowed AS opponent_mid_share_allowed,
  ofm.three_share_allowed AS opponent_three_share_allowed,
  inj.status AS injury_status,
  inj.reason AS injury_reason,
  orp.pace_last_10 AS opponent_pace_last_10,
  ofm.ft_rate_allowed AS opponent_ft_rate_allowed,
  nop.win_pct AS next_opponent_win_pct,
  tg.games AS team_games
FROM sides AS s
JOIN players AS p ON p.team_id = s.team_id
JOIN teams AS team ON team.team_id = s.team_id
JOIN teams AS opp ON opp.team_id = s.opponent_team_id
LEFT JOIN form AS tf ON tf.team_id = s.team_id
LEFT JOIN form AS ofm ON ofm.team_id = s.opponent_team_id
LEFT JOIN last_played AS tl ON tl.team_id = s.team_id
LEFT JOIN last_played AS ol ON ol.team_id = s.opponent_team_id
LEFT JOIN injuries AS inj ON inj.player_id = p.player_id
LEFT JOIN recent_pace AS orp ON orp.team_id = s.opponent_team_id
LEFT JOIN next_opponent AS nop ON nop.team_id = s.team_id
LEFT JOIN team_games AS tg ON tg.team_id = s.team_id
ORDER BY p.player_id
