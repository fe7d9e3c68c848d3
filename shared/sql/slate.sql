-- The players of every game with @start_date <= game_date <= @end_date and the game's context as of
-- before tip-off, computed for every game in one pass: season-to-date team and opponent aggregates
-- strictly before the game date (window frames that end one day before it), days since each team's
-- previous game within 30 days, the latest injury report before the pre-tip cut-off
-- (pretip_cutoffs), and the context-feature inputs: the team's schedule from 21 days before to 14
-- days after with each game's arena, the opponent's pace over its last 10 games and FT rate allowed,
-- the next opponent's win rate. One row per (game, player). @rostered: every player on each team's
-- roster in `players` (the nightly slate: start = end = the night); else every player who played,
-- with minutes and points (training targets).
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
-- Each team's schedule around the targets (for the next game and the team_games arrays).
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
-- Played team games plus empty probe rows. The frame of a probe holds the team's earlier games of the
-- season, so its aggregates are those known on the morning of the game, whether or not the game's own
-- team_game_stats row exists yet. A season is shorter than a year. Probes of kind 'side' stand for a
-- side to predict; of kind 'next' for the next opponent of `for_team_id`, as of the target's date.
played AS (
  SELECT game_id, game_date, season, team_id,
         pace, points, possessions, opp_points, opp_possessions,
         CASE WHEN won THEN 1.0 WHEN NOT won THEN 0.0 END AS win,
         opp_points_paint, opp_points_mid_range, opp_points_three, opp_fta, opp_fga,
         AVG(pace) OVER (
           PARTITION BY team_id, season ORDER BY game_date ROWS BETWEEN 9 PRECEDING AND CURRENT ROW
         ) AS pace_last_10
  FROM team_game_stats
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 366 DAY) AND @end_date
),
team_rows AS (
  SELECT game_id, game_date, season, team_id, CAST(NULL AS STRING) AS probe, CAST(NULL AS INT64) AS for_team_id,
         pace, points, possessions, opp_points, opp_possessions, win,
         opp_points_paint, opp_points_mid_range, opp_points_three, opp_fta, opp_fga, pace_last_10
  FROM played
  UNION ALL
  SELECT game_id, game_date, season, team_id, 'side' AS probe, team_id AS for_team_id,
         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM sides
  UNION ALL
  SELECT game_id, game_date, season, opponent_team_id AS team_id, 'next' AS probe, team_id AS for_team_id,
         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM next_game
),
form AS (
  SELECT
    game_id,
    team_id,
    probe,
    for_team_id,
    AVG(pace) OVER season_before AS pace,
    100 * SUM(points) OVER season_before / NULLIF(SUM(possessions) OVER season_before, 0) AS off_rating,
    100 * SUM(opp_points) OVER season_before / NULLIF(SUM(opp_possessions) OVER season_before, 0)
      AS def_rating,
    AVG(win) OVER season_before AS win_pct,
    SUM(opp_points_paint) OVER season_before
      / NULLIF(SUM(CASE WHEN opp_points_paint IS NOT NULL THEN opp_points END) OVER season_before, 0)
      AS paint_share_allowed,
    SUM(opp_points_mid_range) OVER season_before
      / NULLIF(SUM(CASE WHEN opp_points_mid_range IS NOT NULL THEN opp_points END) OVER season_before, 0)
      AS mid_share_allowed,
    SUM(opp_points_three) OVER season_before / NULLIF(SUM(opp_points) OVER season_before, 0)
      AS three_share_allowed,
    SUM(opp_fta) OVER season_before / NULLIF(SUM(opp_fga) OVER season_before, 0) AS ft_rate_allowed,
    LAST_VALUE(pace_last_10 IGNORE NULLS) OVER season_before AS pace_last_10
  FROM team_rows
  WINDOW season_before AS (
    PARTITION BY team_id, season ORDER BY UNIX_DATE(game_date)
    RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
  )
),
last_played AS (
  SELECT
    game_id,
    team_id,
    MAX(game_date) OVER (
      PARTITION BY team_id ORDER BY UNIX_DATE(game_date) RANGE BETWEEN 30 PRECEDING AND 1 PRECEDING
    ) AS last_game_date
  FROM team_dates
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
  ofm.pace_last_10 AS opponent_pace_last_10,
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
LEFT JOIN injuries AS inj ON inj.game_id = s.game_id AND inj.player_id = r.player_id
ORDER BY s.game_date, s.game_id, r.player_id
