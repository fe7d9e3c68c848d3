-- The first date on or after @from_date that has games scheduled.
-- params: from_date DATE
SELECT MIN(game_date) AS game_date
FROM schedule
WHERE game_date >= @from_date
