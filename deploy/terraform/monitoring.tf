# Alerts. README.md, Deploy and Operate ("Runbook") says what each one means and what to do; the
# documentation block of each policy points there.

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == "" ? 0 : 1

  display_name = "nba-props on-call"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }

  depends_on = [google_project_service.apis]
}

locals {
  notification_channels = google_monitoring_notification_channel.email[*].id
  runbook               = "README.md, Deploy and Operate, section \"Runbook\""
  service_names         = [google_cloud_run_v2_service.coordinator.name, google_cloud_run_v2_service.worker.name]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "nba-props: dead letters waiting"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "Unacknowledged messages on the dead-letter subscription"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dead_letter.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    content   = "Players whose prediction failed ${local.max_delivery_attempts} times. See ${local.runbook}: \"Dead letters waiting\"."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "push_backlog" {
  display_name          = "nba-props: prediction requests not being processed"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "Oldest unacknowledged request older than 30 minutes"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.worker_push.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1800
      duration        = "300s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    content   = "The worker is not acknowledging pushes. See ${local.runbook}: \"Prediction requests not being processed\"."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "scheduled_call_failed" {
  display_name          = "nba-props: scheduled call failed"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "A Cloud Scheduler attempt on a coordinator route failed"
    condition_matched_log {
      filter = "resource.type=\"cloud_scheduler_job\" AND resource.labels.job_id:\"${var.name_prefix}-\" AND severity>=ERROR"
      label_extractors = {
        job = "EXTRACT(resource.labels.job_id)"
      }
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "1800s"
  }

  documentation {
    content   = "/start, /grade or the stall check answered with an error or timed out. See ${local.runbook}: \"Scheduled call failed\"."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "service_error" {
  display_name          = "nba-props: a service logged an error"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "ERROR or worse from the coordinator or the worker"
    condition_matched_log {
      filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(\"${join("\" OR \"", local.service_names)}\") AND severity>=ERROR"
      label_extractors = {
        service = "EXTRACT(resource.labels.service_name)"
        message = "EXTRACT(jsonPayload.message)"
      }
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "1800s"
  }

  documentation {
    content   = "Read the message label first. See ${local.runbook}: \"A service logged an error\"."
    mime_type = "text/markdown"
  }
}

# The application's own alerts (coordinator/alerts.py, README.md, Grading, alerts and monitoring): each is one `Alert` log event
# at its severity. ERROR and CRITICAL ones already match "a service logged an error" above; this
# policy adds the WARNING ones (prediction bias or range, grading coverage, hit rate). Only the
# deliveries the alert manager claimed: duplicates and rate-limited raises are not mailed again.
resource "google_monitoring_alert_policy" "coordinator_warning" {
  display_name          = "nba-props: the coordinator raised a warning"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels

  conditions {
    display_name = "An Alert event at WARNING from the coordinator"
    condition_matched_log {
      filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloud_run_v2_service.coordinator.name}\" AND jsonPayload.message=\"Alert\" AND severity=WARNING AND jsonPayload.alert_delivery=\"claimed\""
      label_extractors = {
        kind = "EXTRACT(jsonPayload.alert_kind)"
        key  = "EXTRACT(jsonPayload.alert_key)"
      }
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "1800s"
  }

  documentation {
    content   = "The kind label names the alert and the key the night or batch. See ${local.runbook}: \"The coordinator raised a warning\"."
    mime_type = "text/markdown"
  }
}

# -- Where the application sends its alerts besides the log ----------------------------------------

# The Slack-compatible webhook URL (NBA_PROPS_ALERT_WEBHOOK_URL) is a credential: it lives in this
# secret, whose versions an operator adds with gcloud (README.md, Deploy and Operate), so the value is in
# neither this configuration nor the Terraform state. The secret exists even while no version is
# used: Cloud Run refuses a revision that references a secret version that does not exist yet, so
# the secret must be there before var.alert_webhook_secret_version can name one of its versions.
resource "google_secret_manager_secret" "alert_webhook" {
  secret_id = "${var.name_prefix}-alert-webhook-url"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# Optional: every alert also published as JSON (NBA_PROPS_ALERT_PUBSUB_TOPIC) for a paging or
# ticketing bridge to subscribe to.
resource "google_pubsub_topic" "alerts" {
  # checkov:skip=CKV_GCP_83:Alerts carry batch ids, dates and counts of public-sports data; Google-managed encryption suffices.
  count = var.alert_topic_enabled ? 1 : 0

  name = "${var.name_prefix}-alerts"

  depends_on = [google_project_service.apis]
}
