-- Every rostered player of every team playing on @game_date, with the game's context as of before
-- tip-off: season-to-date team and opponent aggregates strictly before @game_date, days of rest and
-- the latest injury-report entry. One row per player.
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
         SUM(t.opp_points_three) / NULLIF(SUM(t.opp_points), 0) AS three_share_allowed
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
injuries AS (
  SELECT i.player_id, i.status, i.reason
  FROM injury_reports AS i
  JOIN games AS g ON g.game_id = i.game_id
  WHERE i.game_date = @game_date
    AND (g.tipoff_utc IS NULL OR i.reported_at < g.tipoff_utc)
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
  inj.reason AS injury_reason
FROM sides AS s
JOIN players AS p ON p.team_id = s.team_id
JOIN teams AS team ON team.team_id = s.team_id
JOIN teams AS opp ON opp.team_id = s.opponent_team_id
LEFT JOIN form AS tf ON tf.team_id = s.team_id
LEFT JOIN form AS ofm ON ofm.team_id = s.opponent_team_id
LEFT JOIN last_played AS tl ON tl.team_id = s.team_id
LEFT JOIN last_played AS ol ON ol.team_id = s.opponent_team_id
LEFT JOIN injuries AS inj ON inj.player_id = p.player_id
ORDER BY p.player_id
