-- After an import of game logs: drop the team aggregates of the games it touched, which are then
-- recomputed from every stored box score of those games (a game completed by a later import gets
-- its team stats; a partial box score's totals do not stay).
-- params: game_ids ARRAY<STRING>
DELETE FROM team_game_stats
WHERE game_id IN UNNEST(@game_ids)
