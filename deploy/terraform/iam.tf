# One service account per caller, each granted only what its code does:
#   coordinator - runs the night's queries, writes batch bookkeeping, publishes the fan-out, grades,
#                 reads the alert webhook secret;
#   worker      - appends predictions and outcomes (no reads on the hot path);
#   push        - the identity Pub/Sub presents to the worker;
#   scheduler   - the identity Cloud Scheduler (and an operator calling by hand) presents to the
#                 coordinator.
# push and scheduler hold no role at all: each service lets in exactly one of them by email
# (NBA_PROPS_AUTH_ALLOWED_EMAILS in main.tf), and no run.invoker grant exists because Cloud Run's
# invoker check is off on both services (run.tf says why).

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

# -- Alert sinks --------------------------------------------------------------------------------

# The webhook URL, on that one secret only (not project-wide secretAccessor).
resource "google_secret_manager_secret_iam_member" "coordinator_reads_alert_webhook" {
  secret_id = google_secret_manager_secret.alert_webhook.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.coordinator.member
}

resource "google_pubsub_topic_iam_member" "coordinator_publishes_alerts" {
  count = length(google_pubsub_topic.alerts)

  topic  = google_pubsub_topic.alerts[count.index].id
  role   = "roles/pubsub.publisher"
  member = google_service_account.coordinator.member
}

# -- Operators ----------------------------------------------------------------------------------

# Calling a state-changing coordinator route by hand (a re-run with --force, a re-grade) takes the
# scheduler identity's ID token: `gcloud auth print-identity-token --impersonate-service-account`.
# This role allows minting ID tokens for that one account and nothing else (no access tokens).
resource "google_service_account_iam_member" "operators_mint_scheduler_id_tokens" {
  for_each = toset(var.operator_members)

  service_account_id = google_service_account.scheduler.name
  role               = "roles/iam.serviceAccountOpenIdTokenCreator"
  member             = each.value
}
