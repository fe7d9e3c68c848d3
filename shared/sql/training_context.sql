-- Training targets: every played player-game with @start_date <= game_date <= @end_date, with the
-- context slate.sql gives a slate player, computed the same way for every game in one pass:
-- season-to-date team and opponent aggregates strictly before the game date (window frames that end
-- one day before it), days since the team's previous scheduled game within 30 days, and the latest
-- injury-report entry before tip-off. One row per (game, player). Keep in step with slate.sql; the
-- training-parity test compares the two.
-- params: start_date DATE, end_date DATE
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
-- Played team games plus one empty probe row per side to predict. The frame of a probe holds the
-- team's earlier games of the season, so its aggregates equal slate.sql's `form` for that date,
-- whether or not the game's own team_game_stats row exists yet. A season is shorter than a year.
team_rows AS (
  SELECT game_id, game_date, season, team_id, FALSE AS probe,
         pace, points, possessions, opp_points, opp_possessions,
         CASE WHEN won THEN 1.0 WHEN NOT won THEN 0.0 END AS win,
         opp_points_paint, opp_points_mid_range, opp_points_three
  FROM team_game_stats
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 366 DAY) AND @end_date
  UNION ALL
  SELECT game_id, game_date, season, team_id, TRUE AS probe,
         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM sides
),
form AS (
  SELECT
    game_id,
    team_id,
    probe,
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
      AS three_share_allowed
  FROM team_rows
  WINDOW season_before AS (
    PARTITION BY team_id, season ORDER BY UNIX_DATE(game_date)
    RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
  )
),
team_dates AS (
  SELECT game_id, game_date, home_team_id AS team_id
  FROM schedule
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 30 DAY) AND @end_date
  UNION ALL
  SELECT game_id, game_date, away_team_id AS team_id
  FROM schedule
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 30 DAY) AND @end_date
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
injuries AS (
  SELECT i.game_id, i.player_id, i.status
  FROM injury_reports AS i
  JOIN games AS g ON g.game_id = i.game_id
  WHERE i.game_date BETWEEN @start_date AND @end_date
    AND (g.tipoff_utc IS NULL OR i.reported_at < g.tipoff_utc)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY i.game_id, i.player_id ORDER BY i.reported_at DESC) = 1
)
SELECT
  l.player_id,
  s.game_id,
  s.game_date,
  s.tipoff_utc,
  s.season,
  s.phase,
  s.team_id,
  s.opponent_team_id,
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
  l.minutes,
  l.points
FROM sides AS s
JOIN player_game_logs AS l
  ON l.game_id = s.game_id AND l.team_id = s.team_id
 AND l.game_date BETWEEN @start_date AND @end_date
LEFT JOIN form AS tf ON tf.probe AND tf.game_id = s.game_id AND tf.team_id = s.team_id
LEFT JOIN form AS ofm ON ofm.probe AND ofm.game_id = s.game_id AND ofm.team_id = s.opponent_team_id
LEFT JOIN last_played AS tl ON tl.game_id = s.game_id AND tl.team_id = s.team_id
LEFT JOIN last_played AS ol ON ol.game_id = s.game_id AND ol.team_id = s.opponent_team_id
LEFT JOIN injuries AS inj ON inj.game_id = s.game_id AND inj.player_id = l.player_id
ORDER BY s.game_date, s.game_id, l.player_id
