# nba-props on GCP: BigQuery holds the data, the coordinator (Cloud Run) loads the night's slate and
# publishes one Pub/Sub message per player, the worker (Cloud Run) predicts from each pushed message,
# and Cloud Scheduler drives the night. README.md, Deploy and Operate walks through it.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  apis = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    # generateIdToken: operators mint the scheduler identity's ID token to call /start by hand.
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
  ])

  image_base = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"

  # Pub/Sub's own service agent forwards dead letters and mints the push OIDC tokens.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Deliveries of one message before it is dead-lettered; the same number as the embedded
  # transport's default (Settings.max_delivery_attempts), which tests/deploy checks.
  max_delivery_attempts = 5
  # The worker's warehouse writes give up (and answer 503, so Pub/Sub redelivers) well before the
  # push's ack deadline (var.push_ack_deadline_seconds, 60 s) cuts the request silently.
  worker_query_timeout_s = 40

  # The audience of the ID tokens each service accepts (shared/auth.py checks it). A fixed string,
  # because a service cannot carry its own run.app URL in its environment (a Terraform cycle): it is
  # the service's custom audience, the audience its callers' tokens are minted for, and the
  # service's NBA_PROPS_AUTH_AUDIENCES, all three from here.
  coordinator_audience = "${var.project_id}/${var.name_prefix}-coordinator"
  worker_audience      = "${var.project_id}/${var.name_prefix}-worker"

  # Environment of each service. Every name must be a field of shared.settings.Settings
  # (tests/deploy/test_terraform.py checks). NBA_PROPS_HOST, NBA_PROPS_LOG_FORMAT and
  # NBA_PROPS_MODEL_DIR are set by the images (Dockerfile.*), not here; the optional alert sinks
  # are dynamic env blocks in run.tf (the webhook is a Secret Manager reference, never a value).
  coordinator_env = {
    NBA_PROPS_WAREHOUSE_BACKEND     = "bigquery"
    NBA_PROPS_BIGQUERY_PROJECT      = var.project_id
    NBA_PROPS_BIGQUERY_DATASET      = google_bigquery_dataset.main.dataset_id
    NBA_PROPS_BIGQUERY_LOCATION     = google_bigquery_dataset.main.location
    NBA_PROPS_TRANSPORT             = "pubsub"
    NBA_PROPS_PUBSUB_PROJECT        = var.project_id
    NBA_PROPS_PUBSUB_TOPIC          = google_pubsub_topic.requests.name
    NBA_PROPS_GCP_PROJECT_FOR_TRACE = var.project_id
    # Only Cloud Scheduler's identity may change state (/start, /grade, the stall check, finalize,
    # resume); operators calling by hand impersonate it (README.md, Deploy and Operate).
    NBA_PROPS_AUTH                = "google_oidc"
    NBA_PROPS_AUTH_AUDIENCES      = local.coordinator_audience
    NBA_PROPS_AUTH_ALLOWED_EMAILS = google_service_account.scheduler.email
  }

  worker_env = {
    NBA_PROPS_WAREHOUSE_BACKEND     = "bigquery"
    NBA_PROPS_BIGQUERY_PROJECT      = var.project_id
    NBA_PROPS_BIGQUERY_DATASET      = google_bigquery_dataset.main.dataset_id
    NBA_PROPS_BIGQUERY_LOCATION     = google_bigquery_dataset.main.location
    NBA_PROPS_MAX_DELIVERY_ATTEMPTS = local.max_delivery_attempts
    NBA_PROPS_GCP_PROJECT_FOR_TRACE = var.project_id
    NBA_PROPS_QUERY_TIMEOUT_S       = local.worker_query_timeout_s
    # Only the push subscription's identity may deliver prediction requests.
    NBA_PROPS_AUTH                = "google_oidc"
    NBA_PROPS_AUTH_AUDIENCES      = local.worker_audience
    NBA_PROPS_AUTH_ALLOWED_EMAILS = google_service_account.push.email
  }
}

resource "google_project_service" "apis" {
  for_each = local.apis

  project = var.project_id
  service = each.value
  # Turning an API off on destroy would break anything else in the project that uses it.
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84:Images hold code and a model, no personal data; Google-managed encryption suffices and CMEK adds a KMS key to operate.
  repository_id = var.name_prefix
  location      = var.region
  format        = "DOCKER"
  description   = "nba-props coordinator and worker images."

  docker_config {
    # A tag always names the same image, so rolling back to a tag restores exactly what ran.
    immutable_tags = true
  }

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent-for-rollback"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "7776000s"
    }
  }

  depends_on = [google_project_service.apis]
}
