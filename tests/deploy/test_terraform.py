"""The Terraform in deploy/terraform, checked without a cloud account: parsed with python-hcl2 and
held to the code (settings, routes, schema), plus checkov's security checks."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2
import pytest
import sqlglot
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlglot import exp

from shared.schema import TABLES, VIEWS
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "deploy" / "terraform"
TOOLS_VENV = ROOT / ".venv-tools"
SETTINGS_PREFIX = "NBA_PROPS_"
PENDING_ROUTE = "route lands with issue 5/6"
_HCL_OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
_REFERENCE = re.compile(r"^\$\{([\w.]+)\}$")


# -- Reading the HCL ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Terraform:
    resources: dict[str, dict[str, dict[str, Any]]]
    locals: dict[str, Any]
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    text: str

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        assert name in self.resources.get(kind, {}), f"no {kind}.{name} in deploy/terraform"
        return self.resources[kind][name]

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.resources.get(kind, {})

    def resolve(self, value: Any) -> Any:
        """Follow a whole-value ``${var.x}`` (to its default) or ``${local.x}``; else return as is."""
        if not isinstance(value, str):
            return value
        match = _REFERENCE.match(value)
        if not match:
            return value
        head, _, rest = match.group(1).partition(".")
        if head == "var" and rest in self.variables and "default" in self.variables[rest]:
            return self.resolve(self.variables[rest]["default"])
        if head == "local" and rest in self.locals:
            return self.resolve(self.locals[rest])
        return value


@cache
def terraform() -> Terraform:
    resources: dict[str, dict[str, dict[str, Any]]] = {}
    locals_: dict[str, Any] = {}
    variables: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    texts = []
    for path in sorted(TERRAFORM.glob("*.tf")):
        texts.append(path.read_text())
        with path.open() as fh:
            doc = hcl2.load(fh, serialization_options=_HCL_OPTIONS)
        for block in doc.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    assert name not in resources.get(kind, {}), f"{kind}.{name} declared twice"
                    resources.setdefault(kind, {})[name] = body
        for block in doc.get("locals", []):
            for key, value in block.items():
                assert key not in locals_, f"local.{key} declared twice"
                locals_[key] = value
        for block in doc.get("variable", []):
            variables.update(block)
        for block in doc.get("output", []):
            outputs.update(block)
    return Terraform(resources, locals_, variables, outputs, "\n".join(texts))


def one(body: dict[str, Any], block: str) -> dict[str, Any]:
    """The single nested block ``block`` of a body."""
    found = body.get(block)
    assert isinstance(found, list) and len(found) == 1, f"expected one {block} block, got {found!r}"
    result: dict[str, Any] = found[0]
    return result


def ref(expression: str) -> str:
    return "${" + expression + "}"


def seconds(duration: Any) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(duration))
    assert match, f"{duration!r} is not a duration in seconds"
    return float(match.group(1))


def container(service: str) -> dict[str, Any]:
    return one(one(terraform().resource("google_cloud_run_v2_service", service), "template"), "containers")


def service_env(service: str) -> dict[str, Any]:
    """Every environment variable set on a Cloud Run service: static env blocks and dynamic ones."""
    c = container(service)
    env = {block["name"]: block.get("value") for block in c.get("env", [])}
    for dynamic in c.get("dynamic", []):
        if "env" not in dynamic:
            continue
        source = dynamic["env"]["for_each"]
        resolved = terraform().resolve(source)
        assert isinstance(resolved, dict), f"dynamic env iterates over {source}, which is not a local map"
        assert one(dynamic["env"], "content") == {"name": "${env.key}", "value": "${env.value}"}
        env.update(resolved)
    return env


@cache
def routes(service: str) -> frozenset[tuple[str, str]]:
    """(method, path) of every route the service's app registers (no lifespan runs)."""
    app: FastAPI
    if service == "coordinator":
        from coordinator.app import create_app as create_coordinator

        app = create_coordinator()
    else:
        from worker.app import create_app as create_worker

        app = create_worker()
    return frozenset((m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in r.methods or ())


def iam_members(kind: str) -> list[dict[str, Any]]:
    return list(terraform().of_kind(kind).values())


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_schemas", ROOT / "deploy" / "generate_schemas.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- Parsing and variables ---------------------------------------------------------------------


def test_every_terraform_file_parses() -> None:
    files = sorted(TERRAFORM.glob("*.tf"))
    assert {f.name for f in files} >= {"versions.tf", "variables.tf", "outputs.tf"}
    for path in files:
        with path.open() as fh:
            hcl2.load(fh, serialization_options=_HCL_OPTIONS)


def test_every_variable_is_declared_and_used() -> None:
    tf = terraform()
    used = set(re.findall(r"\bvar\.(\w+)", tf.text))
    assert used - set(tf.variables) == set(), "used but not declared"
    assert set(tf.variables) - used == set(), "declared but never used"


def test_project_region_and_image_tags_are_inputs_and_urls_are_outputs() -> None:
    tf = terraform()
    for required in ("project_id", "coordinator_image_tag", "worker_image_tag"):
        assert "default" not in tf.variables[required], f"{required} must be given, not defaulted"
    assert "default" in tf.variables["region"]
    assert tf.outputs["coordinator_url"]["value"] == ref("google_cloud_run_v2_service.coordinator.uri")
    assert tf.outputs["worker_url"]["value"] == ref("google_cloud_run_v2_service.worker.uri")


def test_the_example_tfvars_sets_every_required_variable() -> None:
    tf = terraform()
    with (TERRAFORM / "terraform.tfvars.example").open() as fh:
        example = hcl2.load(fh, serialization_options=_HCL_OPTIONS)
    required = {name for name, body in tf.variables.items() if "default" not in body}
    assert required <= set(example)
    assert set(example) <= set(tf.variables)


def test_terraform_files_are_formatted() -> None:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("no terraform binary on PATH (none is installable from the package registries)")
    result = subprocess.run(
        [binary, "fmt", "-check", "-diff", "-recursive", str(TERRAFORM)],
        capture_output=True,
        text=True,
        # No call home to HashiCorp's version-check service.
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        timeout=60,
    )
    assert result.returncode == 0, f"run: terraform fmt -recursive deploy/terraform\n{result.stdout}"


# -- BigQuery: generated from shared/schema.py ---------------------------------------------------


def test_the_committed_schema_files_are_what_the_generator_writes() -> None:
    stale = generator().stale_files()
    assert stale == [], f"stale: {stale}; run: python deploy/generate_schemas.py"


def test_the_drift_check_notices_a_changed_missing_or_extra_file(tmp_path: Path) -> None:
    gen = generator()
    gen.write(tmp_path)
    assert gen.stale_files(tmp_path) == []
    (tmp_path / "teams.json").write_text("[]\n")
    (tmp_path / "schedule.json").unlink()
    (tmp_path / "dropped_table.json").write_text("[]\n")
    assert gen.stale_files(tmp_path) == ["dropped_table.json", "schedule.json", "teams.json"]


def test_the_generated_index_names_every_table_and_view_of_the_schema() -> None:
    index = json.loads((TERRAFORM / "schemas" / "tables.json").read_text())
    assert set(index["tables"]) == {t.name for t in TABLES}
    assert index["views"] == list(VIEWS)
    for t in TABLES:
        schema = json.loads((TERRAFORM / "schemas" / f"{t.name}.json").read_text())
        assert [c["name"] for c in schema] == t.column_names


def test_terraform_builds_each_table_from_the_generated_files() -> None:
    tf = terraform()
    assert tf.locals["warehouse"] == '${jsondecode(file("${path.module}/schemas/tables.json"))}'
    tables = tf.resource("google_bigquery_table", "tables")
    assert tables["for_each"] == ref("local.warehouse.tables")
    assert tables["schema"] == '${file("${path.module}/schemas/${each.key}.json")}'
    assert "each.value.cluster_by" in tables["clustering"]
    assert "each.value.require_partition_filter" in tables["require_partition_filter"]
    partitioning = one(tables["dynamic"][0]["time_partitioning"], "content")
    assert partitioning == {
        "type": ref("time_partitioning.value.partition_granularity"),
        "field": ref("time_partitioning.value.partition_by"),
    }
    views = tf.resource("google_bigquery_table", "views")
    assert views["for_each"] == ref("toset(local.warehouse.views)")
    assert 'schemas/${each.key}_view.sql"' in one(views, "view")["query"]


def test_each_view_reads_only_tables_of_its_own_dataset() -> None:
    for view in VIEWS:
        template = (TERRAFORM / "schemas" / f"{view}_view.sql").read_text()
        rendered = template.replace("${project}", "example-project").replace("${dataset}", "nba_props")
        assert "${" not in rendered, "only the project and dataset placeholders are allowed"
        tables = list(sqlglot.parse_one(rendered, read="bigquery").find_all(exp.Table))
        assert tables
        for table in tables:
            assert (table.catalog, table.db) == ("example-project", "nba_props"), table.sql("bigquery")
            assert table.name in {t.name for t in TABLES}


def test_the_dataset_defaults_match_the_settings_defaults() -> None:
    tf = terraform()
    dataset = tf.resource("google_bigquery_dataset", "main")
    assert tf.resolve(dataset["dataset_id"]) == Settings.model_fields["bigquery_dataset"].default
    assert tf.resolve(dataset["location"]) == Settings.model_fields["bigquery_location"].default


# -- Cloud Run: settings, routes, size -----------------------------------------------------------


@pytest.mark.parametrize("service", ["coordinator", "worker"])
def test_every_environment_variable_set_on_a_service_is_a_real_setting(service: str) -> None:
    env = service_env(service)
    assert env, f"{service} sets no environment"
    unknown = sorted(
        name
        for name in env
        if not name.startswith(SETTINGS_PREFIX)
        or name.removeprefix(SETTINGS_PREFIX).lower() not in Settings.model_fields
    )
    assert unknown == [], f"not fields of shared.settings.Settings: {unknown}"


def _placeholder(name: str) -> str:
    # A value of the right type for an attribute known only at apply time.
    default = Settings.model_fields[name.removeprefix(SETTINGS_PREFIX).lower()].default
    return "example-project" if default is None else str(default)


@pytest.mark.parametrize("service", ["coordinator", "worker"])
def test_each_services_environment_makes_valid_cloud_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tf = terraform()
    for name in [k for k in os.environ if k.startswith(SETTINGS_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in service_env(service).items():
        resolved = tf.resolve(value)
        monkeypatch.setenv(name, _placeholder(name) if "${" in str(resolved) else str(resolved))
    try:
        settings = Settings()
    except ValidationError as exc:
        pytest.fail(f"{service}'s environment is not valid settings: {exc}")
    # The defaults are DuckDB and loopback: a cloud service left on them would run on nothing.
    assert settings.warehouse_backend.value == "bigquery"
    if service == "coordinator":
        assert settings.transport.value == "pubsub"


def test_the_services_use_the_terraform_managed_dataset_and_project() -> None:
    for service in ("coordinator", "worker"):
        env = service_env(service)
        assert env["NBA_PROPS_BIGQUERY_PROJECT"] == ref("var.project_id")
        assert env["NBA_PROPS_BIGQUERY_DATASET"] == ref("google_bigquery_dataset.main.dataset_id")
        assert env["NBA_PROPS_BIGQUERY_LOCATION"] == ref("google_bigquery_dataset.main.location")


@pytest.mark.parametrize("service", ["coordinator", "worker"])
def test_health_probes_hit_real_routes(service: str) -> None:
    c = container(service)
    for probe in ("startup_probe", "liveness_probe"):
        path = one(one(c, probe), "http_get")["path"]
        assert ("GET", path) in routes(service), f"{service} {probe} hits {path}, which is no GET route"
    assert one(one(c, "startup_probe"), "http_get")["path"] == "/readyz", "no traffic before the app is ready"


@pytest.mark.parametrize("service", ["coordinator", "worker"])
def test_each_service_runs_its_own_image_from_the_projects_registry(service: str) -> None:
    tf = terraform()
    assert container(service)["image"] == f"${{local.image_base}}/{service}:${{var.{service}_image_tag}}"
    assert "google_artifact_registry_repository.images.repository_id" in tf.locals["image_base"]
    template = one(tf.resource("google_cloud_run_v2_service", service), "template")
    assert template["service_account"] == ref(f"google_service_account.{service}.email")


def test_the_coordinator_has_the_production_size_and_a_600_second_timeout() -> None:
    template = one(terraform().resource("google_cloud_run_v2_service", "coordinator"), "template")
    assert seconds(template["timeout"]) == 600
    limits = one(container("coordinator"), "resources")["limits"]
    assert limits == {"cpu": "2", "memory": "4Gi"}


def test_the_worker_scaling_and_concurrency_are_inputs() -> None:
    tf = terraform()
    template = one(tf.resource("google_cloud_run_v2_service", "worker"), "template")
    assert template["max_instance_request_concurrency"] == ref("var.worker_concurrency")
    scaling = one(template, "scaling")
    assert scaling["min_instance_count"] == ref("var.worker_min_instances")
    assert scaling["max_instance_count"] == ref("var.worker_max_instances")
    for name in ("worker_concurrency", "worker_min_instances", "worker_max_instances"):
        assert isinstance(tf.variables[name].get("default"), int)
    assert tf.variables["worker_min_instances"]["default"] <= tf.variables["worker_max_instances"]["default"]


def test_the_worker_takes_only_internal_traffic_and_nobody_calls_a_service_unauthenticated() -> None:
    tf = terraform()
    assert tf.resource("google_cloud_run_v2_service", "worker")["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    public = re.findall(r"\ball(?:Users|AuthenticatedUsers)\b", tf.text)
    assert public == [], "no resource may be granted to allUsers or allAuthenticatedUsers"


# -- Pub/Sub: push route, OIDC, dead letters ------------------------------------------------------


def test_the_push_subscription_delivers_to_the_workers_push_route() -> None:
    from worker.app import PUSH_PATH

    push = one(terraform().resource("google_pubsub_subscription", "worker_push"), "push_config")
    assert push["push_endpoint"] == ref("google_cloud_run_v2_service.worker.uri") + PUSH_PATH
    assert ("POST", PUSH_PATH) in routes("worker")


def test_the_push_subscription_authenticates_as_an_invoker_of_the_worker() -> None:
    push = one(terraform().resource("google_pubsub_subscription", "worker_push"), "push_config")
    token = one(push, "oidc_token")
    assert token["audience"] == ref("google_cloud_run_v2_service.worker.uri")
    account = token["service_account_email"].removesuffix(".email}")
    invokers = [
        m
        for m in iam_members("google_cloud_run_v2_service_iam_member")
        if m["name"] == ref("google_cloud_run_v2_service.worker.name") and m["role"] == "roles/run.invoker"
    ]
    assert [m["member"] for m in invokers] == [account + ".member}"]


def test_the_push_ack_deadline_bounds_the_workers_request_timeout() -> None:
    tf = terraform()
    subscription = tf.resource("google_pubsub_subscription", "worker_push")
    deadline = tf.resolve(subscription["ack_deadline_seconds"])
    assert 10 <= deadline <= 600, "Pub/Sub allows 10-600 s"
    template = one(tf.resource("google_cloud_run_v2_service", "worker"), "template")
    assert template["timeout"] == "${var.push_ack_deadline_seconds}s"
    assert subscription["ack_deadline_seconds"] == ref("var.push_ack_deadline_seconds")
    retry = one(subscription, "retry_policy")
    assert 0 <= seconds(retry["minimum_backoff"]) <= seconds(retry["maximum_backoff"]) <= 600


def test_failed_messages_are_dead_lettered_after_five_attempts() -> None:
    tf = terraform()
    subscription = tf.resource("google_pubsub_subscription", "worker_push")
    policy = one(subscription, "dead_letter_policy")
    assert policy["dead_letter_topic"] == ref("google_pubsub_topic.dead_letter.id")
    attempts = tf.resolve(policy["max_delivery_attempts"])
    assert attempts == 5 == Settings.model_fields["max_delivery_attempts"].default
    assert tf.resolve(service_env("worker")["NBA_PROPS_MAX_DELIVERY_ATTEMPTS"]) == attempts


def test_dead_letters_are_kept_on_a_subscription_that_never_expires() -> None:
    tf = terraform()
    keepers = [
        s
        for s in tf.of_kind("google_pubsub_subscription").values()
        if s["topic"] == ref("google_pubsub_topic.dead_letter.id")
    ]
    assert len(keepers) == 1
    keeper = keepers[0]
    assert "push_config" not in keeper, "a pull subscription keeps messages until someone reads them"
    assert seconds(tf.resolve(keeper["message_retention_duration"])) >= 24 * 3600
    for subscription in tf.of_kind("google_pubsub_subscription").values():
        assert one(subscription, "expiration_policy")["ttl"] == "", "the off-season is longer than 31 days"


def test_the_pubsub_service_agent_may_forward_dead_letters() -> None:
    tf = terraform()
    agent = ref("local.pubsub_service_agent")
    assert "@gcp-sa-pubsub.iam.gserviceaccount.com" in tf.locals["pubsub_service_agent"]
    topic_grants = {
        (m["topic"], m["role"]) for m in iam_members("google_pubsub_topic_iam_member") if m["member"] == agent
    }
    assert (ref("google_pubsub_topic.dead_letter.id"), "roles/pubsub.publisher") in topic_grants
    subscription_grants = {
        (m["subscription"], m["role"])
        for m in iam_members("google_pubsub_subscription_iam_member")
        if m["member"] == agent
    }
    assert (
        ref("google_pubsub_subscription.worker_push.id"),
        "roles/pubsub.subscriber",
    ) in subscription_grants


def test_the_coordinator_publishes_to_the_topic_the_worker_subscription_reads() -> None:
    tf = terraform()
    assert service_env("coordinator")["NBA_PROPS_PUBSUB_TOPIC"] == ref("google_pubsub_topic.requests.name")
    assert tf.resource("google_pubsub_subscription", "worker_push")["topic"] == ref(
        "google_pubsub_topic.requests.id"
    )
    grants = {
        m["role"]
        for m in iam_members("google_pubsub_topic_iam_member")
        if m["topic"] == ref("google_pubsub_topic.requests.id")
        and m["member"] == ref("google_service_account.coordinator.member")
    }
    assert "roles/pubsub.publisher" in grants
    if "get_topic(" in (ROOT / "shared" / "transport" / "pubsub.py").read_text():
        assert "roles/pubsub.viewer" in grants, "the publisher looks the topic up before publishing"


# -- Cloud Scheduler -----------------------------------------------------------------------------

_PENDING = pytest.mark.xfail(strict=True, reason=PENDING_ROUTE)


def scheduled_calls() -> dict[str, dict[str, Any]]:
    calls: dict[str, dict[str, Any]] = terraform().locals["scheduled_calls"]
    return calls


def test_the_night_is_started_at_2300_utc_graded_next_morning_and_checked_for_stalls() -> None:
    tf = terraform()
    calls = scheduled_calls()
    assert set(calls) == {"start", "grade", "stall_check"}
    paths = {key: call["path"] for key, call in calls.items()}
    assert paths == {"start": "/start", "grade": "/grade", "stall_check": "/batches/check-stalls"}
    assert tf.resolve(calls["start"]["schedule"]) == "0 23 * * *"
    assert tf.resolve(tf.resource("google_cloud_scheduler_job", "coordinator")["time_zone"]) == "Etc/UTC"
    grade_hour = int(str(tf.resolve(calls["grade"]["schedule"])).split()[1])
    assert 8 <= grade_hour <= 20, "grading runs the next (US) morning, after the last game ended"
    assert str(tf.resolve(calls["stall_check"]["schedule"])).startswith("*/")


@pytest.mark.parametrize(
    "call",
    ["start", pytest.param("grade", marks=_PENDING), pytest.param("stall_check", marks=_PENDING)],
)
def test_each_scheduled_job_posts_to_a_real_coordinator_route(call: str) -> None:
    job = terraform().resource("google_cloud_scheduler_job", "coordinator")
    target = one(job, "http_target")
    assert target["uri"] == ref("google_cloud_run_v2_service.coordinator.uri") + ref("each.value.path")
    assert target["http_method"] == "POST"
    path = scheduled_calls()[call]["path"]
    assert ("POST", path) in routes("coordinator"), f"the coordinator has no POST {path}"


def test_scheduled_jobs_authenticate_as_an_invoker_of_the_coordinator() -> None:
    job = terraform().resource("google_cloud_scheduler_job", "coordinator")
    assert job["for_each"] == ref("local.scheduled_calls")
    token = one(one(job, "http_target"), "oidc_token")
    assert token["audience"] == ref("google_cloud_run_v2_service.coordinator.uri")
    account = token["service_account_email"].removesuffix(".email}")
    invokers = [
        m["member"]
        for m in iam_members("google_cloud_run_v2_service_iam_member")
        if m["name"] == ref("google_cloud_run_v2_service.coordinator.name")
        and m["role"] == "roles/run.invoker"
    ]
    assert invokers == [account + ".member}"]


def test_scheduled_jobs_retry_within_a_deadline() -> None:
    tf = terraform()
    job = tf.resource("google_cloud_scheduler_job", "coordinator")
    assert job["attempt_deadline"] == ref("each.value.attempt_deadline")
    assert one(job, "retry_config")["retry_count"] == ref("each.value.retry_count")
    for key, call in scheduled_calls().items():
        assert 15 <= seconds(call["attempt_deadline"]) <= 1800, (
            f"{key}: Cloud Scheduler allows 15 s to 30 min"
        )
        assert call["retry_count"] >= 1, f"{key}: the default of 0 retries gives up on one cold start"


def test_start_is_not_retried_while_it_may_still_be_running() -> None:
    template = one(terraform().resource("google_cloud_run_v2_service", "coordinator"), "template")
    assert seconds(scheduled_calls()["start"]["attempt_deadline"]) > seconds(template["timeout"])


# -- Least privilege -----------------------------------------------------------------------------


def test_no_service_account_gets_a_basic_or_admin_role() -> None:
    roles = [
        m["role"]
        for kind, resources in terraform().resources.items()
        if kind.endswith("_iam_member") or kind.endswith("_iam_binding")
        for m in resources.values()
    ]
    assert roles
    broad = [r for r in roles if r in {"roles/owner", "roles/editor", "roles/viewer"} or r.endswith(".admin")]
    assert broad == []


def test_the_worker_may_write_only_its_two_tables() -> None:
    tf = terraform()
    worker = ref("google_service_account.worker.member")
    dataset_grants = [m for m in iam_members("google_bigquery_dataset_iam_member") if m["member"] == worker]
    assert dataset_grants == [], "the worker reads nothing; table-level grants only"
    table_grants = [m for m in iam_members("google_bigquery_table_iam_member") if m["member"] == worker]
    assert len(table_grants) == 1
    assert tf.resolve(table_grants[0]["for_each"]) == '${toset(["predictions_raw", "player_outcomes"])}'
    assert {"predictions_raw", "player_outcomes"} <= {t.name for t in TABLES}


# -- checkov -----------------------------------------------------------------------------------


def _skip_comments() -> list[tuple[str, str]]:
    return re.findall(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?", terraform().text)


def test_every_checkov_skip_is_justified_in_a_comment() -> None:
    unjustified = [check for check, reason in _skip_comments() if len(reason.split()) < 5]
    assert unjustified == [], "each skip says why, in a sentence"


@pytest.fixture(scope="module")
def checkov_report() -> Iterator[dict[str, Any]]:
    checkov = TOOLS_VENV / "bin" / "checkov"
    if not checkov.exists():
        message = f"checkov is not installed; run: bash scripts/tools-venv.sh {TOOLS_VENV.name}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    report = json.loads(result.stdout)
    yield report[0] if isinstance(report, list) else report


def test_checkov_finds_no_failed_check(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']})"
        for c in checkov_report["results"].get("failed_checks", [])
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0, "checkov evaluated nothing"


def test_checkov_applies_exactly_the_justified_skips_in_the_files(checkov_report: dict[str, Any]) -> None:
    skipped = checkov_report["results"].get("skipped_checks", [])
    reasons = {c["check_id"]: c["check_result"].get("suppress_comment") or "" for c in skipped}
    # A skip comment outside its resource block is silently ignored by checkov; this notices.
    assert set(reasons) == {check for check, _ in _skip_comments()}
    assert [check for check, reason in reasons.items() if len(reason.split()) < 5] == []
