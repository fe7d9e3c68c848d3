-- Before a roster import writes anything: the stored spells of @player_ids, which an incoming spell
-- of the same key must equal.
-- params: player_ids ARRAY<INT64>
SELECT player_id, team_id, from_date, to_date
FROM rosters
WHERE player_id IN UNNEST(@player_ids)
