# The fan-out: the coordinator publishes one message per player to `requests`; the push
# subscription delivers each to the worker's push route with an OIDC token. A message the worker
# keeps failing is moved to the dead-letter topic after local.max_delivery_attempts deliveries,
# where a pull subscription keeps it for inspection and replay (README.md, Deploy and Operate, "Operate").

resource "google_pubsub_topic" "requests" {
  # checkov:skip=CKV_GCP_83:Messages carry public-sports features for one night and live minutes; Google-managed encryption suffices.
  name = "${var.name_prefix}-predictions"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  # checkov:skip=CKV_GCP_83:Same payloads as the request topic (see CKV_GCP_83 there).
  name = "${var.name_prefix}-predictions-dead-letter"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "worker_push" {
  name  = "${var.name_prefix}-predictions-worker"
  topic = google_pubsub_topic.requests.id

  # For push this is also how long Pub/Sub waits for the worker's answer.
  ack_deadline_seconds = var.push_ack_deadline_seconds
  # A prediction is worth nothing after the night; don't replay yesterday's backlog for a week.
  message_retention_duration = "86400s"

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.worker.uri}/pubsub/push"

    # The worker verifies this token itself (run.tf): its audience is the worker's custom audience
    # and NBA_PROPS_AUTH_AUDIENCES, its email the worker's NBA_PROPS_AUTH_ALLOWED_EMAILS.
    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.worker_audience
    }
  }

  # A 5xx from the worker (warehouse unavailable, timeout) is retried with backoff, not at once.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = local.max_delivery_attempts
  }

  # Subscriptions expire after 31 idle days by default; the off-season is longer than that.
  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_pubsub_topic_iam_member.service_agent_publishes_dead_letters,
    google_service_account_iam_member.service_agent_mints_push_tokens,
  ]
}

# A pull subscription, so dead letters are kept (a topic alone drops what nobody subscribed to).
resource "google_pubsub_subscription" "dead_letter" {
  name  = "${var.name_prefix}-predictions-dead-letter"
  topic = google_pubsub_topic.dead_letter.id

  ack_deadline_seconds       = 60
  message_retention_duration = var.dead_letter_retention
  retain_acked_messages      = true

  expiration_policy {
    ttl = ""
  }
}

# A push subscription on the same topic, so every dead letter is also recorded: the worker's
# dead-letter route writes a `dead_lettered` outcome for the player, which /status counts as failed
# and the coordinator's `dead_letters` alert reports (README.md, Reliability and security). The pull
# subscription above still keeps each message for inspection and replay.
resource "google_pubsub_subscription" "dead_letter_recorder" {
  name  = "${var.name_prefix}-predictions-dead-letter-recorder"
  topic = google_pubsub_topic.dead_letter.id

  ack_deadline_seconds       = 60
  message_retention_duration = var.dead_letter_retention

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.worker.uri}/pubsub/dead-letter"

    # The same identity and audience as the request push: the worker checks them the same way.
    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.worker_audience
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_service_account_iam_member.service_agent_mints_push_tokens]
}
