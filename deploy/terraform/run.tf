# The two services. Each image serves `nba-props serve <service>` on $PORT (8080 here); the
# startup probe hits /readyz, so a revision whose worker has no valid model bundle (or whose
# coordinator cannot query BigQuery) never takes traffic and the previous revision keeps serving.

resource "google_cloud_run_v2_service" "coordinator" {
  name     = "${var.name_prefix}-coordinator"
  location = var.region
  # Operators call /start and /status from their machines (with an identity token); Cloud
  # Scheduler's calls need IAM as well. Nobody is allowed unauthenticated.
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

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
  ]
}

resource "google_cloud_run_v2_service" "worker" {
  name     = "${var.name_prefix}-worker"
  location = var.region
  # Only Pub/Sub pushes here; Pub/Sub in the same project counts as internal traffic.
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = var.deletion_protection

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
