-- Before a line import writes anything: the stored snapshots of @game_ids, which an incoming
-- snapshot of the same key must equal.
-- params: game_ids ARRAY<STRING>
SELECT game_id, player_id, bookmaker, snapshot_at, line, over_price, under_price
FROM prop_line_snapshots
WHERE game_id IN UNNEST(@game_ids)
