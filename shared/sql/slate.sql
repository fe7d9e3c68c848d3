-- The players of every game with @start_date <= game_date <= @end_date and the game's context as of
-- before tip-off: season-to-date team and opponent aggregates strictly before the game date, days
-- since each team's previous game within 30 days, the latest injury report before the pre-tip
-- cut-off (pretip_cutoffs), and the context-feature inputs: the team's schedule from 21 days before
-- to 14 days after with each game's arena, the opponent's pace over its last 10 games and FT rate
-- allowed, the next opponent's win rate. One row per (game, player). @rostered: every player on
-- each team's roster in `players` (the nightly slate: start = end = the night); else every player
-- who played, with minutes and points (training targets).
-- params: start_date DATE, end_date DATE, rostered BOOL
WITH games AS (
  SELECT game_id, game_date, tipoff_utc, season, phase, home_team_id, away_team_id
  FROM schedule
  WHERE game_date BETWEEN @start_date AND @end_date
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
-- Each team's schedule around the targets (for days of rest, the next game and the team_games arrays).
team_dates AS (
  SELECT game_id, game_date, tipoff_utc, home_team_id AS team_id, away_team_id AS opponent_team_id,
         TRUE AS is_home, home_team_id
  FROM schedule
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 30 DAY) AND DATE_ADD(@end_date, INTERVAL 14 DAY)
  UNION ALL
  SELECT game_id, game_date, tipoff_utc, away_team_id AS team_id, home_team_id AS opponent_team_id,
         FALSE AS is_home, home_team_id
  FROM schedule
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 30 DAY) AND DATE_ADD(@end_date, INTERVAL 14 DAY)
),
next_game AS (
  SELECT s.game_id, s.game_date, s.season, s.team_id, n.opponent_team_id
  FROM sides AS s
  JOIN team_dates AS n
    ON n.team_id = s.team_id
   AND n.game_date > s.game_date
   AND n.game_date <= DATE_ADD(s.game_date, INTERVAL 14 DAY)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY s.game_id, s.team_id ORDER BY n.game_date, n.game_id) = 1
),
-- The teams whose season-to-date form is wanted, as of a date: each side of a game, and (kind
-- 'next') the next opponent of `for_team_id`, as of that side's game date.
probes AS (
  SELECT game_id, game_date, season, team_id, 'side' AS probe, team_id AS for_team_id
  FROM sides
  UNION ALL
  SELECT game_id, game_date, season, opponent_team_id AS team_id, 'next' AS probe, team_id AS for_team_id
  FROM next_game
),
-- Every team game of a probe's team earlier in the probe's season. A season is shorter than a year.
season_before AS (
  SELECT r.game_id, r.team_id, r.probe, r.for_team_id, t.game_date,
         t.pace, t.points, t.possessions, t.opp_points, t.opp_possessions,
         CASE WHEN t.won THEN 1.0 WHEN NOT t.won THEN 0.0 END AS win,
         t.opp_points_paint, t.opp_points_mid_range, t.opp_points_three, t.opp_fta, t.opp_fga
  FROM probes AS r
  JOIN team_game_stats AS t
    ON t.team_id = r.team_id AND t.season = r.season AND t.game_date < r.game_date
  WHERE t.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 366 DAY) AND @end_date
),
form AS (
  SELECT
    game_id,
    team_id,
    probe,
    for_team_id,
    AVG(pace) AS pace,
    100 * SUM(points) / NULLIF(SUM(possessions), 0) AS off_rating,
    100 * SUM(opp_points) / NULLIF(SUM(opp_possessions), 0) AS def_rating,
    AVG(win) AS win_pct,
    SUM(opp_points_paint) / NULLIF(SUM(CASE WHEN opp_points_paint IS NOT NULL THEN opp_points END), 0)
      AS paint_share_allowed,
    SUM(opp_points_mid_range) / NULLIF(SUM(CASE WHEN opp_points_mid_range IS NOT NULL THEN opp_points END), 0)
      AS mid_share_allowed,
    SUM(opp_points_three) / NULLIF(SUM(opp_points), 0) AS three_share_allowed,
    SUM(opp_fta) / NULLIF(SUM(opp_fga), 0) AS ft_rate_allowed
  FROM season_before
  GROUP BY game_id, team_id, probe, for_team_id
),
recent_pace AS (
  SELECT game_id, team_id, AVG(pace) AS pace_last_10
  FROM (
    SELECT game_id, team_id, pace
    FROM season_before
    WHERE probe = 'side'
    QUALIFY ROW_NUMBER() OVER (PARTITION BY game_id, team_id ORDER BY game_date DESC) <= 10
  )
  GROUP BY game_id, team_id
),
last_played AS (
  SELECT s.game_id, s.team_id, MAX(d.game_date) AS last_game_date
  FROM sides AS s
  JOIN team_dates AS d
    ON d.team_id = s.team_id
   AND d.game_date < s.game_date
   AND d.game_date >= DATE_SUB(s.game_date, INTERVAL 30 DAY)
  GROUP BY s.game_id, s.team_id
),
team_games AS (
  SELECT s.game_id, s.team_id,
         ARRAY_AGG(
           STRUCT(
             d.game_date AS game_date,
             d.tipoff_utc AS tipoff_utc,
             d.is_home AS is_home,
             arena.arena_lat AS arena_lat,
             arena.arena_lon AS arena_lon,
             arena.time_zone AS time_zone
           )
           ORDER BY d.game_date
         ) AS games
  FROM sides AS s
  JOIN team_dates AS d
    ON d.team_id = s.team_id
   AND d.game_date BETWEEN DATE_SUB(s.game_date, INTERVAL 21 DAY) AND DATE_ADD(s.game_date, INTERVAL 14 DAY)
  JOIN teams AS arena ON arena.team_id = d.home_team_id
  GROUP BY s.game_id, s.team_id
),
injuries AS (
  SELECT i.game_id, i.player_id, i.status, i.reason
  FROM injury_reports AS i
  JOIN pretip_cutoffs AS c ON c.game_id = i.game_id AND c.game_date BETWEEN @start_date AND @end_date
  WHERE i.game_date BETWEEN @start_date AND @end_date
    AND i.reported_at < c.cutoff_utc
  QUALIFY ROW_NUMBER() OVER (PARTITION BY i.game_id, i.player_id ORDER BY i.reported_at DESC) = 1
),
-- Who gets a row: the rostered players of each side, or those who played (with their results).
people AS (
  SELECT s.game_id, s.team_id, p.player_id, CAST(NULL AS FLOAT64) AS minutes, CAST(NULL AS INT64) AS points
  FROM sides AS s
  JOIN players AS p ON p.team_id = s.team_id
  WHERE @rostered
  UNION ALL
  SELECT game_id, team_id, player_id, minutes, points
  FROM player_game_logs
  WHERE NOT @rostered AND game_date BETWEEN @start_date AND @end_date
)
SELECT
  r.player_id,
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
  DATE_DIFF(s.game_date, tl.last_game_date, DAY) AS team_rest_days,
  ofm.def_rating AS opponent_def_rating,
  ofm.pace AS opponent_pace,
  DATE_DIFF(s.game_date, ol.last_game_date, DAY) AS opponent_rest_days,
  ofm.paint_share_allowed AS opponent_paint_share_allowed,
  ofm.mid_share_allowed AS opponent_mid_share_allowed,
  ofm.three_share_allowed AS opponent_three_share_allowed,
  inj.status AS injury_status,
  inj.reason AS injury_reason,
  orp.pace_last_10 AS opponent_pace_last_10,
  ofm.ft_rate_allowed AS opponent_ft_rate_allowed,
  nop.win_pct AS next_opponent_win_pct,
  tg.games AS team_games,
  r.minutes,
  r.points
FROM sides AS s
JOIN people AS r ON r.game_id = s.game_id AND r.team_id = s.team_id
JOIN teams AS team ON team.team_id = s.team_id
JOIN teams AS opp ON opp.team_id = s.opponent_team_id
LEFT JOIN players AS p ON p.player_id = r.player_id
LEFT JOIN form AS tf ON tf.probe = 'side' AND tf.game_id = s.game_id AND tf.team_id = s.team_id
LEFT JOIN form AS ofm ON ofm.probe = 'side' AND ofm.game_id = s.game_id AND ofm.team_id = s.opponent_team_id
LEFT JOIN form AS nop ON nop.probe = 'next' AND nop.game_id = s.game_id AND nop.for_team_id = s.team_id
LEFT JOIN team_games AS tg ON tg.game_id = s.game_id AND tg.team_id = s.team_id
LEFT JOIN last_played AS tl ON tl.game_id = s.game_id AND tl.team_id = s.team_id
LEFT JOIN last_played AS ol ON ol.game_id = s.game_id AND ol.team_id = s.opponent_team_id
LEFT JOIN recent_pace AS orp ON orp.game_id = s.game_id AND orp.team_id = s.opponent_team_id
LEFT JOIN injuries AS inj ON inj.game_id = s.game_id AND inj.player_id = r.player_id
ORDER BY s.game_date, s.game_id, r.player_id
