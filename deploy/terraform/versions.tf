terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 6.8 added invoker_iam_disabled to google_cloud_run_v2_service (run.tf).
      version = ">= 6.8, < 7.0"
    }
  }

  # State is local by default. For a team, keep it in a bucket instead: create one, then add
  #   backend "gcs" { bucket = "<project>-tfstate"  prefix = "nba-props" }
  # here and run `terraform init -migrate-state` (README.md, Deploy and Operate, "Deploy").
}

provider "google" {
  project = var.project_id
  region  = var.region
}
