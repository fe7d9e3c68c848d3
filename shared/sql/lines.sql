-- For every game with @start_date <= game_date <= @end_date, every player of @player_ids and every
-- bookmaker: the latest line snapshot taken before the game's pre-tip cut-off (pretip_cutoffs) and
-- that bookmaker's opening line. Serving asks for one night (start = end), training for its window;
-- which bookmaker's line counts is decided afterwards by shared/lines.py (choose_lines).
-- params: start_date DATE, end_date DATE, player_ids ARRAY<INT64>
WITH snaps AS (
  SELECT l.player_id, l.game_id, l.bookmaker, l.line, l.over_price, l.under_price, l.snapshot_at
  FROM prop_line_snapshots AS l
  JOIN pretip_cutoffs AS c ON c.game_id = l.game_id AND c.game_date BETWEEN @start_date AND @end_date
  WHERE l.game_date BETWEEN @start_date AND @end_date
    AND l.player_id IN UNNEST(@player_ids)
    AND l.snapshot_at < c.cutoff_utc
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
