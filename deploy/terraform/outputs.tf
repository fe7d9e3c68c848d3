output "coordinator_url" {
  description = "Base URL of the coordinator (POST /start, GET /status; needs an identity token)."
  value       = google_cloud_run_v2_service.coordinator.uri
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
