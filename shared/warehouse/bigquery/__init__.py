"""The BigQuery adapter of the warehouse port (cloud mode): `BigQueryWarehouse` in `adapter`, query
jobs under a deadline in `jobs`, BigQuery's dialect (DDL, qualified views) in `dialect`, and the
conversion of parameters and rows in `values`."""

from shared.warehouse.bigquery.adapter import EMULATOR_HOST_ENV, STAGING_PREFIX, BigQueryWarehouse

__all__ = ["EMULATOR_HOST_ENV", "STAGING_PREFIX", "BigQueryWarehouse"]
