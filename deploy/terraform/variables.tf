variable "project_id" {
  description = "The GCP project everything is created in."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, Cloud Scheduler and Artifact Registry."
  type        = string
  default     = "us-central1"
}

variable "name_prefix" {
  description = "Prefix of every resource name (services, topics, service accounts, jobs)."
  type        = string
  default     = "nba-props"

  validation {
    # Service account ids allow 6-30 characters; the longest suffix used is "-coordinator" (12).
    condition     = can(regex("^[a-z][a-z0-9-]{2,16}$", var.name_prefix))
    error_message = "name_prefix must be 3-17 lowercase letters, digits or dashes, starting with a letter."
  }
}

# -- Images ------------------------------------------------------------------------------------

variable "coordinator_image_tag" {
  description = "Tag of the coordinator image in the Artifact Registry repository (e.g. the git sha)."
  type        = string
}

variable "worker_image_tag" {
  description = "Tag of the worker image; the model bundle is baked into it, so this also picks the model."
  type        = string
}

# -- Warehouse ---------------------------------------------------------------------------------

variable "dataset_id" {
  description = "BigQuery dataset (NBA_PROPS_BIGQUERY_DATASET)."
  type        = string
  default     = "nba_props"
}

variable "bigquery_location" {
  description = "BigQuery location of the dataset (NBA_PROPS_BIGQUERY_LOCATION)."
  type        = string
  default     = "US"
}

# -- Services ----------------------------------------------------------------------------------

variable "coordinator_max_instances" {
  description = "Upper bound of coordinator instances; one /start holds an instance for up to 600 s."
  type        = number
  default     = 2
}

variable "coordinator_concurrency" {
  description = "Requests one coordinator instance serves at once (/status keeps answering during /start)."
  type        = number
  default     = 8
}

variable "worker_concurrency" {
  description = "Push requests one worker instance serves at once."
  type        = number
  default     = 8
}

variable "worker_min_instances" {
  description = "Worker instances kept warm; 0 scales to zero between nights."
  type        = number
  default     = 0
}

variable "worker_max_instances" {
  description = "Upper bound of worker instances (caps the write rate into BigQuery)."
  type        = number
  default     = 10
}

variable "worker_cpu" {
  description = "vCPUs of a worker instance."
  type        = string
  default     = "1"
}

variable "worker_memory" {
  description = "Memory of a worker instance (CatBoost model + pandas)."
  type        = string
  default     = "2Gi"
}

variable "deletion_protection" {
  description = "Refuse to destroy the services and tables; set false only to tear the deployment down."
  type        = bool
  default     = true
}

# -- Messaging ---------------------------------------------------------------------------------

variable "push_ack_deadline_seconds" {
  description = "Ack deadline of the push subscription, which is also the push request timeout."
  type        = number
  default     = 60

  validation {
    condition     = var.push_ack_deadline_seconds >= 10 && var.push_ack_deadline_seconds <= 600
    error_message = "Pub/Sub allows an ack deadline of 10 to 600 seconds."
  }
}

variable "dead_letter_retention" {
  description = "How long dead-lettered messages are kept on their subscription for inspection and replay."
  type        = string
  default     = "604800s"
}

# -- Schedules (Cloud Scheduler cron syntax, in scheduler_time_zone) ------------------------------

variable "scheduler_time_zone" {
  description = "Time zone of the schedules below."
  type        = string
  default     = "Etc/UTC"
}

variable "start_schedule" {
  description = "When POST /start runs the night (23:00 UTC is US evening, before tip-off)."
  type        = string
  default     = "0 23 * * *"
}

variable "grade_schedule" {
  description = "When POST /grade grades the previous night against the box scores."
  type        = string
  default     = "0 15 * * *"
}

variable "stall_check_schedule" {
  description = "How often POST /batches/check-stalls marks batches that stopped progressing."
  type        = string
  default     = "*/15 * * * *"
}

# -- Alerts ------------------------------------------------------------------------------------

variable "alert_email" {
  description = "Where alerts are e-mailed; empty creates the alert policies without a notification channel."
  type        = string
  default     = ""
}

variable "alert_webhook_secret_version" {
  description = "Version of the Secret Manager secret <name_prefix>-alert-webhook-url the coordinator posts alerts to (a Slack incoming webhook URL); empty sends none. Pin a number; add a version and change this to rotate."
  type        = string
  default     = ""

  validation {
    condition     = var.alert_webhook_secret_version == "" || can(regex("^[1-9][0-9]*$|^latest$", var.alert_webhook_secret_version))
    error_message = "alert_webhook_secret_version is empty, a version number or \"latest\"."
  }
}

variable "alert_topic_enabled" {
  description = "Create the topic <name_prefix>-alerts and publish every alert to it as JSON (NBA_PROPS_ALERT_PUBSUB_TOPIC)."
  type        = bool
  default     = false
}

# -- Operators ---------------------------------------------------------------------------------

variable "operator_members" {
  description = "IAM members (user:..., group:...) who may call the coordinator's state-changing routes by hand, by minting the scheduler identity's ID token."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.operator_members : can(regex("^(user|group|serviceAccount):.+@.+$", m))])
    error_message = "Each operator is user:EMAIL, group:EMAIL or serviceAccount:EMAIL."
  }
}
