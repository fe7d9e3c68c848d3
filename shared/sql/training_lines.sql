-- lines.sql for a date window: for every player, game and bookmaker with @start_date <= game_date
-- <= @end_date, the latest line snapshot taken before tip-off and that bookmaker's opening line.
-- Which bookmaker wins is decided by the configured priority afterwards (choose_lines), as nightly.
-- Without a tip-off time (schedule.tipoff_utc NULL, as for every imported game) the cutoff is the
-- game date at 16:00 UTC (11:00 US Eastern in winter, noon in summer), no later than any regular
-- NBA tip-off: a later snapshot may be an in-game line. The same rule holds in
-- lines.sql and for injury reports in training_context.sql.
-- params: start_date DATE, end_date DATE
WITH snaps AS (
  SELECT l.player_id, l.game_id, l.bookmaker, l.line, l.over_price, l.under_price, l.snapshot_at
  FROM prop_line_snapshots AS l
  JOIN schedule AS g ON g.game_id = l.game_id AND g.game_date BETWEEN @start_date AND @end_date
  WHERE l.game_date BETWEEN @start_date AND @end_date
    AND l.snapshot_at < COALESCE(g.tipoff_utc, TIMESTAMP(DATETIME(g.game_date, TIME(16, 0, 0)), 'UTC'))
)
SELECT
  player_id,
  game_id,
  bookmaker,
  line,
  over_price,
  under_price,
  snapshot_at,
  FIRST_VALUE(line) OVER (
    PARTITION BY player_id, game_id, bookmaker ORDER BY snapshot_at
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
  ) AS opening_line
FROM snaps
QUALIFY ROW_NUMBER() OVER (PARTITION BY player_id, game_id, bookmaker ORDER BY snapshot_at DESC) = 1
ORDER BY player_id, game_id, bookmaker
