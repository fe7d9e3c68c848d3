# The two services. Each image serves `uvicorn <service>.main:app` on $PORT (8080 here); the
# startup probe hits /readyz, so a revision whose worker has no valid model bundle (or whose
# coordinator cannot query BigQuery) never takes traffic and the previous revision keeps serving.

resource "google_cloud_run_v2_service" "coordinator" {
  name     = "${var.name_prefix}-coordinator"
  location = var.region
  # Cloud Scheduler and operators' machines call it from outside Google's network.
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

  # The application is the gate, not Cloud Run IAM (README.md, Reliability and security, "Deploying it"). With its
  # invoker check on, Cloud Run verifies the caller's ID token and then strips the token's
  # signature before the request reaches the container, so shared/auth.py could verify nothing and
  # would refuse every call. With the check off, every state-changing route (POST /start, /grade,
  # /batches/...) needs a Google-signed ID token for local.coordinator_audience issued to the
  # scheduler identity: NBA_PROPS_AUTH=google_oidc in local.coordinator_env, and the image (bound
  # to 0.0.0.0) refuses to start without it. So do the reads (/status, /report, GET /grade): only the
  # probes (/healthz, /readyz) answer without a token.
  invoker_iam_disabled = true
  # The audience the scheduler's tokens carry. Fixed, because the service's own URL cannot be put
  # in its environment (a cycle); Cloud Run accepts it as well should its invoker check come back.
  custom_audiences = [local.coordinator_audience]

  template {
    service_account = google_service_account.coordinator.email
    # /start loads the slate and publishes the fan-out within one request.
    timeout                          = "600s"
    max_instance_request_concurrency = var.coordinator_concurrency

    scaling {
      min_instance_count = 0
      max_instance_count = var.coordinator_max_instances
    }

    containers {
      image = "${local.image_base}/coordinator:${var.coordinator_image_tag}"

      ports {
        container_port = 8080
      }

      resources {
        # As in the seed's production config: the slate and 82-game histories are held in pandas.
        limits = {
          cpu    = "2"
          memory = "4Gi"
        }
        # The fan-out finishes before /start answers, so request-based CPU is enough.
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.coordinator_env
        content {
          name  = env.key
          value = env.value
        }
      }

      # The alert webhook (a Slack URL is a credential): a reference to a pinned version of the
      # Secret Manager secret, resolved by Cloud Run when an instance starts. The value is never in
      # Terraform's configuration or state. Off until var.alert_webhook_secret_version names a version.
      dynamic "env" {
        for_each = var.alert_webhook_secret_version == "" ? [] : [var.alert_webhook_secret_version]
        content {
          name = "NBA_PROPS_ALERT_WEBHOOK_URL"
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.alert_webhook.secret_id
              version = env.value
            }
          }
        }
      }

      # Every alert also published to a topic, when var.alert_topic_enabled created one.
      dynamic "env" {
        for_each = google_pubsub_topic.alerts
        content {
          name  = "NBA_PROPS_ALERT_PUBSUB_TOPIC"
          value = env.value.name
        }
      }

      startup_probe {
        http_get {
          path = "/readyz"
        }
        period_seconds    = 5
        timeout_seconds   = 4
        failure_threshold = 12
      }

      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds = 30
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  depends_on = [
    google_project_iam_member.coordinator_job_user,
    google_bigquery_dataset_iam_member.coordinator_data_editor,
    google_bigquery_table.tables,
    # Cloud Run checks at deployment that the runtime identity may read every referenced secret.
    google_secret_manager_secret_iam_member.coordinator_reads_alert_webhook,
  ]
}

resource "google_cloud_run_v2_service" "worker" {
  name     = "${var.name_prefix}-worker"
  location = var.region
  # Only Pub/Sub pushes here; Pub/Sub in the same project counts as internal traffic. Defence in
  # depth for the invoker check turned off below: nothing outside Google's network reaches it.
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = var.deletion_protection

  # As on the coordinator: Cloud Run's invoker check would strip the push token's signature, so the
  # application verifies the token instead (NBA_PROPS_AUTH=google_oidc in local.worker_env: a
  # Google-signed ID token for local.worker_audience issued to the push identity, on every push).
  invoker_iam_disabled = true
  custom_audiences     = [local.worker_audience]

  template {
    service_account = google_service_account.worker.email
    # Pub/Sub stops waiting at the ack deadline; answering later only wastes the instance.
    timeout                          = "${var.push_ack_deadline_seconds}s"
    max_instance_request_concurrency = var.worker_concurrency

    scaling {
      min_instance_count = var.worker_min_instances
      max_instance_count = var.worker_max_instances
    }

    containers {
      image = "${local.image_base}/worker:${var.worker_image_tag}"

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.worker_cpu
          memory = var.worker_memory
        }
        cpu_idle = true
        # Loading and validating the CatBoost bundle is the slow part of a cold start.
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.worker_env
        content {
          name  = env.key
          value = env.value
        }
      }

      startup_probe {
        http_get {
          path = "/readyz"
        }
        period_seconds    = 5
        timeout_seconds   = 4
        failure_threshold = 12
      }

      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds = 30
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  depends_on = [
    google_project_iam_member.worker_job_user,
    google_bigquery_table_iam_member.worker_writes,
  ]
}
