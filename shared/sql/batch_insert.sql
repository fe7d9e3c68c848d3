-- params: batch_id STRING, game_date DATE, status STRING, now TIMESTAMP
INSERT INTO batches (batch_id, game_date, status, expected, published, skipped, created_at, updated_at)
VALUES (@batch_id, @game_date, @status, 0, 0, 0, @now, @now)
