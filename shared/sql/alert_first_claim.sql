-- Read-side deduplication across instances: of every claim of a signature within the window, the
-- earliest (ties broken by id) is the one that is sent. An instance whose own claim is not it backs
-- off, so two instances that passed alert_recent at the same moment still send once.
-- params: signature STRING, dedup_since TIMESTAMP
SELECT alert_id, instance, raised_at
FROM alert_log
WHERE signature = @signature AND decision = 'claimed' AND raised_at >= @dedup_since
ORDER BY raised_at, alert_id
LIMIT 1
