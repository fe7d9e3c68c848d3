-- A schedule import fills in the tip-off time of stored games that have none (games imported from
-- box scores); a stored tip-off is never changed here. @game_ids and @tipoffs pair up by position.
-- params: game_ids ARRAY<STRING>, tipoffs ARRAY<TIMESTAMP>
UPDATE schedule AS s
SET tipoff_utc = t.tipoff_utc
FROM (
  SELECT game_id, tipoff_utc
  FROM UNNEST(@game_ids) AS game_id WITH OFFSET AS i
  JOIN UNNEST(@tipoffs) AS tipoff_utc WITH OFFSET AS j ON i = j
) AS t
WHERE s.game_id = t.game_id AND s.tipoff_utc IS NULL
