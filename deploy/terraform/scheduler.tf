# The night's clock. Each job POSTs a coordinator route with an OIDC token of the scheduler
# identity, which the coordinator verifies itself (run.tf). The routes are checked against
# coordinator.app by tests/deploy/test_terraform.py.

locals {
  scheduled_calls = {
    start = {
      description = "Load tonight's slate and fan out one prediction request per player."
      path        = "/start"
      schedule    = var.start_schedule
      # Longer than the coordinator's 600 s request timeout: a slow /start must not be retried
      # while it is still running.
      attempt_deadline = "900s"
      retry_count      = 2
    }
    grade = {
      description      = "Grade last night's predictions against the box scores."
      path             = "/grade"
      schedule         = var.grade_schedule
      attempt_deadline = "900s"
      retry_count      = 3
    }
    stall_check = {
      description = "Mark batches that stopped making progress as stalled."
      path        = "/batches/check-stalls"
      schedule    = var.stall_check_schedule
      # Finalizing reads the slate again and writes outcomes and alerts: several queries, each up
      # to NBA_PROPS_QUERY_TIMEOUT_S. A shorter deadline would retry a finalize still running.
      attempt_deadline = "600s"
      # The next run is 15 minutes away; one retry covers a cold start.
      retry_count = 1
    }
  }
}

resource "google_cloud_scheduler_job" "coordinator" {
  for_each = local.scheduled_calls

  name             = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  region           = var.region
  description      = each.value.description
  schedule         = each.value.schedule
  time_zone        = var.scheduler_time_zone
  attempt_deadline = each.value.attempt_deadline

  retry_config {
    retry_count          = each.value.retry_count
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
    max_doublings        = 3
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloud_run_v2_service.coordinator.uri}${each.value.path}"

    # The coordinator's custom audience, which is also its NBA_PROPS_AUTH_AUDIENCES; the email is
    # its NBA_PROPS_AUTH_ALLOWED_EMAILS.
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.coordinator_audience
    }
  }

  depends_on = [google_project_service.apis]
}
