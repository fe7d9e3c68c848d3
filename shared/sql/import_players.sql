-- Before an import resolves names: every player the warehouse knows, with the team it holds now.
-- params:
SELECT player_id, name, team_id
FROM players
