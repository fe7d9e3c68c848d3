output "coordinator_url" {
  description = "Base URL of the coordinator (every route but /healthz and /readyz needs an ID token of the scheduler identity)."
  value       = google_cloud_run_v2_service.coordinator.uri
}

output "coordinator_audience" {
  description = "Audience of the ID token a state-changing coordinator call must carry (gcloud auth print-identity-token --audiences)."
  value       = local.coordinator_audience
}

output "scheduler_service_account" {
  description = "The one identity the coordinator accepts writes from; operators impersonate it (operator_members)."
  value       = google_service_account.scheduler.email
}

output "worker_url" {
  description = "Base URL of the worker (internal ingress: reachable by Pub/Sub push only)."
  value       = google_cloud_run_v2_service.worker.uri
}

output "image_repository" {
  description = "Prefix of the image names: <image_repository>/coordinator:<tag>, <image_repository>/worker:<tag>."
  value       = local.image_base
}

output "bigquery_dataset" {
  description = "project.dataset of the warehouse."
  value       = "${var.project_id}.${google_bigquery_dataset.main.dataset_id}"
}

output "request_topic" {
  description = "Topic the coordinator publishes prediction requests to."
  value       = google_pubsub_topic.requests.name
}

output "dead_letter_subscription" {
  description = "Pull subscription holding dead-lettered prediction requests."
  value       = google_pubsub_subscription.dead_letter.name
}

output "scheduler_jobs" {
  description = "Cloud Scheduler job names by purpose."
  value       = { for key, job in google_cloud_scheduler_job.coordinator : key => job.name }
}

output "alert_webhook_secret" {
  description = "Secret Manager secret holding the alert webhook URL; add a version, then set alert_webhook_secret_version."
  value       = google_secret_manager_secret.alert_webhook.secret_id
}

output "alert_topic" {
  description = "Topic every alert is published to (alert_topic_enabled), or null."
  value       = one(google_pubsub_topic.alerts[*].name)
}
