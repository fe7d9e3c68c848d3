# Tables and views come from shared/schema.py through deploy/generate_schemas.py, which writes
# schemas/: one JSON schema per table, tables.json (partitioning, clustering, partition filter) and
# each view's SQL. Nothing about a table is written here by hand.

locals {
  warehouse = jsondecode(file("${path.module}/schemas/tables.json"))
}

resource "google_bigquery_dataset" "main" {
  # checkov:skip=CKV_GCP_81:Box scores, betting lines and predictions are public-sports data; Google-managed encryption suffices and CMEK adds a KMS key to operate.
  dataset_id    = var.dataset_id
  location      = var.bigquery_location
  description   = "nba-props: league data, prop lines, batches and predictions."
  friendly_name = "nba-props"

  # Never drop the history with the dataset.
  delete_contents_on_destroy = false

  depends_on = [google_project_service.apis]
}

resource "google_bigquery_table" "tables" {
  # checkov:skip=CKV_GCP_80:Same data as the dataset (see CKV_GCP_81 there): Google-managed encryption suffices.
  for_each = local.warehouse.tables

  dataset_id          = google_bigquery_dataset.main.dataset_id
  table_id            = each.key
  description         = each.value.description
  schema              = file("${path.module}/schemas/${each.key}.json")
  clustering          = length(each.value.cluster_by) > 0 ? each.value.cluster_by : null
  deletion_protection = var.deletion_protection

  # Only meaningful with partitioning, and null keeps unpartitioned tables free of the attribute.
  require_partition_filter = each.value.partition_by == null ? null : each.value.require_partition_filter

  dynamic "time_partitioning" {
    for_each = each.value.partition_by == null ? [] : [each.value]
    content {
      type  = time_partitioning.value.partition_granularity
      field = time_partitioning.value.partition_by
    }
  }
}

resource "google_bigquery_table" "views" {
  # checkov:skip=CKV_GCP_80:A view stores no data of its own to encrypt.
  for_each = toset(local.warehouse.views)

  dataset_id          = google_bigquery_dataset.main.dataset_id
  table_id            = each.key
  deletion_protection = var.deletion_protection

  view {
    query = templatefile("${path.module}/schemas/${each.key}_view.sql", {
      project = var.project_id
      dataset = google_bigquery_dataset.main.dataset_id
    })
    use_legacy_sql = false
  }

  # A view is validated against its tables when it is created.
  depends_on = [google_bigquery_table.tables]
}
