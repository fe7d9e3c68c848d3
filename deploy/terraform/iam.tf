# One service account per caller, each granted only what its code does:
#   coordinator - runs the night's queries, writes batch bookkeeping, publishes the fan-out;
#   worker      - appends predictions and outcomes (no reads on the hot path);
#   push        - the identity Pub/Sub presents to the worker (run.invoker on the worker only);
#   scheduler   - the identity Cloud Scheduler presents to the coordinator (run.invoker on it only).

resource "google_service_account" "coordinator" {
  account_id   = "${var.name_prefix}-coordinator"
  display_name = "nba-props coordinator (Cloud Run runtime)"
}

resource "google_service_account" "worker" {
  account_id   = "${var.name_prefix}-worker"
  display_name = "nba-props worker (Cloud Run runtime)"
}

resource "google_service_account" "push" {
  account_id   = "${var.name_prefix}-push"
  display_name = "nba-props Pub/Sub push identity (invokes the worker)"
}

resource "google_service_account" "scheduler" {
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "nba-props Cloud Scheduler identity (invokes the coordinator)"
}

# -- BigQuery ----------------------------------------------------------------------------------

# Query jobs are billed and created at project level; there is no narrower scope for jobUser.
resource "google_project_iam_member" "coordinator_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.coordinator.member
}

resource "google_project_iam_member" "worker_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.worker.member
}

# The coordinator reads every table (slate, history, lines), updates batches and grades.
resource "google_bigquery_dataset_iam_member" "coordinator_data_editor" {
  dataset_id = google_bigquery_dataset.main.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.coordinator.member
}

# The worker writes to two tables and reads none: table-level grants only.
resource "google_bigquery_table_iam_member" "worker_writes" {
  for_each = toset(["predictions_raw", "player_outcomes"])

  dataset_id = google_bigquery_dataset.main.dataset_id
  table_id   = google_bigquery_table.tables[each.key].table_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.worker.member
}

# -- Pub/Sub -----------------------------------------------------------------------------------

resource "google_pubsub_topic_iam_member" "coordinator_publishes" {
  topic  = google_pubsub_topic.requests.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.coordinator.member
}

# PubSubPublisher.verify_topic() looks the topic up (pubsub.topics.get) before a fan-out.
resource "google_pubsub_topic_iam_member" "coordinator_views_topic" {
  topic  = google_pubsub_topic.requests.id
  role   = "roles/pubsub.viewer"
  member = google_service_account.coordinator.member
}

# Dead-lettering is done by the Pub/Sub service agent: it must publish to the dead-letter topic and
# acknowledge on the source subscription, or messages are redelivered forever instead.
resource "google_pubsub_topic_iam_member" "service_agent_publishes_dead_letters" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "service_agent_acks_dead_letters" {
  subscription = google_pubsub_subscription.worker_push.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# Projects created before April 2021 need this for push OIDC tokens; granted on the push identity
# only, never project-wide.
resource "google_service_account_iam_member" "service_agent_mints_push_tokens" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# -- Cloud Run invokers ------------------------------------------------------------------------

resource "google_cloud_run_v2_service_iam_member" "push_invokes_worker" {
  name     = google_cloud_run_v2_service.worker.name
  location = google_cloud_run_v2_service.worker.location
  role     = "roles/run.invoker"
  member   = google_service_account.push.member
}

resource "google_cloud_run_v2_service_iam_member" "scheduler_invokes_coordinator" {
  name     = google_cloud_run_v2_service.coordinator.name
  location = google_cloud_run_v2_service.coordinator.location
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}
