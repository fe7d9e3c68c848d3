-- AlertManager's durable state, read before an alert is sent: has this signature been claimed within
-- the deduplication window, and how many alerts were claimed within the rate-limit window? Claims
-- are appended to alert_log (no DML), by any instance.
-- params: signature STRING, dedup_since TIMESTAMP, rate_since TIMESTAMP
SELECT
  COUNTIF(signature = @signature AND raised_at >= @dedup_since) AS same_signature,
  COUNTIF(raised_at >= @rate_since) AS claimed_recently
FROM alert_log
WHERE decision = 'claimed'
  AND raised_at >= LEAST(@dedup_since, @rate_since)
