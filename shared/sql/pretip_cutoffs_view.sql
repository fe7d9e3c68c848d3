-- Every game's pre-tip cut-off: a line snapshot or an injury report counts for the game only if it
-- was taken before it. Without a tip-off time (schedule.tipoff_utc NULL, as for every imported game)
-- it is the game date at 16:00 UTC (11:00 US Eastern in winter, noon in summer), no later than any
-- regular NBA tip-off: a later snapshot may be an in-game line. lines.sql and slate.sql read it.
-- params:
SELECT
  game_id,
  game_date,
  COALESCE(tipoff_utc, TIMESTAMP(DATETIME(game_date, TIME(16, 0, 0)), 'UTC')) AS cutoff_utc
FROM schedule
