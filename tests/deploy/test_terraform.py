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

from shared.auth import check_serving_security
from shared.errors import ConfigurationError
from shared.schema import TABLES, VIEWS
from shared.settings import AuthMode, Settings
from tests.deploy.test_dockerfiles import Dockerfile

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "deploy" / "terraform"
TOOLS_VENV = ROOT / ".venv-tools"
SETTINGS_PREFIX = "NBA_PROPS_"
SERVICES = ("coordinator", "worker")
# Who sends each service its state-changing calls, and where the token is set in the Terraform.
CALLERS = {"coordinator": "scheduler", "worker": "push"}
_HCL_OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
_REFERENCE = re.compile(r"^\$\{([\w.]+)\}$")
_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
_PLAIN_REFERENCE = re.compile(r"^[a-z_]\w*(?:\.\w+)+$")


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


@dataclass(frozen=True)
class EnvVar:
    """One environment variable of a Cloud Run container, as the Terraform sets it."""

    value: Any = None  # the HCL value, for a plain variable
    secret_ref: dict[str, Any] | None = None  # value_source.secret_key_ref, for a Secret Manager one
    only_if: str | None = None  # for_each of the dynamic block that sets it or not; None: always set


def service_env_vars(service: str) -> dict[str, EnvVar]:
    """Every environment variable a Cloud Run service may get: static env blocks, dynamic ones over a
    local map (always set), and dynamic blocks of one named variable (set when their for_each is
    not empty)."""
    c = container(service)
    found: dict[str, EnvVar] = {}

    def add(name: str, var: EnvVar) -> None:
        assert name not in found, f"{service} sets {name} twice"
        found[name] = var

    for block in c.get("env", []):
        add(block["name"], EnvVar(value=block.get("value")))
    for dynamic in c.get("dynamic", []):
        if "env" not in dynamic:
            continue
        source = dynamic["env"]["for_each"]
        content = one(dynamic["env"], "content")
        if content == {"name": "${env.key}", "value": "${env.value}"}:
            resolved = terraform().resolve(source)
            assert isinstance(resolved, dict), f"dynamic env iterates over {source}, which is not a local map"
            for name, value in resolved.items():
                add(name, EnvVar(value=value))
            continue
        name = content["name"]
        assert "${" not in name, f"an optional env block names its one variable literally, not {name}"
        if "value_source" in content:
            add(name, EnvVar(secret_ref=one(one(content, "value_source"), "secret_key_ref"), only_if=source))
        else:
            add(name, EnvVar(value=content["value"], only_if=source))
    return found


def service_env(service: str) -> dict[str, Any]:
    """The plain environment variables a service always gets, with their HCL values."""
    return {
        name: var.value
        for name, var in service_env_vars(service).items()
        if var.only_if is None and var.secret_ref is None
    }


def render(value: Any) -> str:
    """The string a container gets for an HCL value. Variables take their default (or a stand-in
    when they have none); an attribute known only after apply becomes a stand-in naming it, so two
    places that reference the same attribute render to the same string."""
    tf = terraform()
    if isinstance(value, bool):
        return str(value).lower()
    if not isinstance(value, str):
        return str(value)

    def substitute(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        assert _PLAIN_REFERENCE.match(expression), f"${{{expression}}}: keep these values to plain references"
        head, _, rest = expression.partition(".")
        if head == "var":
            variable = tf.variables[rest]
            return (
                render(variable["default"]) if "default" in variable else f"example-{rest.replace('_', '-')}"
            )
        if head == "local":
            return render(tf.locals[rest])
        return f"tf-{expression}"

    return _INTERPOLATION.sub(substitute, value)


# What an operator puts into a secret: the test cannot know it, only its form.
_SECRET_STAND_INS = {"NBA_PROPS_ALERT_WEBHOOK_URL": "https://hooks.example.com/services/T0/B0/secret"}


def cloud_env(service: str, *, optional: bool) -> dict[str, str]:
    """The NBA_PROPS_ environment of a running container: the image's ENV overlaid by Cloud Run's
    (the optional variables too when ``optional``)."""
    image = Dockerfile.of(service)
    env = {k: v for k, v in image.env(image.final_stage).items() if k.startswith(SETTINGS_PREFIX)}
    for name, var in service_env_vars(service).items():
        if var.only_if is not None and not optional:
            continue
        env[name] = _SECRET_STAND_INS[name] if var.secret_ref is not None else render(var.value)
    return env


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as the service builds them at startup: from the process environment, and nothing else.

    Not ``Settings(**env)``: keyword arguments are matched by field name, and an environment
    variable's name passed that way is an extra field the settings ignore without a word.
    """
    for name in [k for k in os.environ if k.startswith(SETTINGS_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        return Settings()
    except ValidationError as exc:
        pytest.fail(f"not valid settings: {exc}")


def caller_token(service: str) -> dict[str, Any]:
    """The oidc_token block of what calls the service: the scheduler jobs or the push subscription."""
    tf = terraform()
    if service == "coordinator":
        return one(one(tf.resource("google_cloud_scheduler_job", "coordinator"), "http_target"), "oidc_token")
    return one(one(tf.resource("google_pubsub_subscription", "worker_push"), "push_config"), "oidc_token")


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
    direct = {(m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in r.methods or ()}
    # Routes of an included APIRouter (coordinator/routes_grading.py) are not APIRoute entries of
    # app.routes in recent FastAPI; the OpenAPI schema lists every route, however it was added.
    documented = {(m.upper(), path) for path, item in app.openapi()["paths"].items() for m in item}
    return frozenset(direct | documented)


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


@pytest.mark.parametrize("service", SERVICES)
def test_every_environment_variable_set_on_a_service_is_a_real_setting(service: str) -> None:
    env = service_env_vars(service)
    assert env, f"{service} sets no environment"
    unknown = sorted(
        name
        for name in env
        if not name.startswith(SETTINGS_PREFIX)
        or name.removeprefix(SETTINGS_PREFIX).lower() not in Settings.model_fields
    )
    assert unknown == [], f"not fields of shared.settings.Settings: {unknown}"


@pytest.mark.parametrize("optional", [False, True], ids=["as-deployed-by-default", "with-every-alert-sink"])
@pytest.mark.parametrize("service", SERVICES)
def test_a_service_bound_to_every_interface_gets_valid_cloud_settings_and_starts(
    service: str, optional: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = cloud_env(service, optional=optional)
    # The image binds 0.0.0.0 (Cloud Run's front end cannot reach loopback)...
    assert env["NBA_PROPS_HOST"] == "0.0.0.0"
    settings = settings_from(env, monkeypatch)
    assert settings.host == "0.0.0.0" and not settings.binds_loopback_only
    # ...so it starts only with authentication on: the very check the service runs at startup.
    assert check_serving_security(settings, service) is not None
    # The defaults are DuckDB and loopback: a cloud service left on them would run on nothing.
    assert settings.warehouse_backend.value == "bigquery"
    if service == "coordinator":
        assert settings.transport.value == "pubsub"
        assert (settings.alert_webhook_url is not None) is optional
        assert bool(settings.alert_pubsub_topic) is optional


@pytest.mark.parametrize("service", SERVICES)
def test_without_its_auth_settings_a_service_would_refuse_to_start(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The counter-proof of the test above: what it checks is the authentication Terraform sets.
    env = {k: v for k, v in cloud_env(service, optional=False).items() if not k.startswith("NBA_PROPS_AUTH")}
    with pytest.raises(ConfigurationError, match="NBA_PROPS_AUTH=disabled"):
        check_serving_security(settings_from(env, monkeypatch), service)


def test_the_services_use_the_terraform_managed_dataset_and_project() -> None:
    for service in ("coordinator", "worker"):
        env = service_env(service)
        assert env["NBA_PROPS_BIGQUERY_PROJECT"] == ref("var.project_id")
        assert env["NBA_PROPS_BIGQUERY_DATASET"] == ref("google_bigquery_dataset.main.dataset_id")
        assert env["NBA_PROPS_BIGQUERY_LOCATION"] == ref("google_bigquery_dataset.main.location")


@pytest.mark.parametrize("service", SERVICES)
def test_health_probes_hit_real_routes(service: str) -> None:
    c = container(service)
    for probe in ("startup_probe", "liveness_probe"):
        path = one(one(c, probe), "http_get")["path"]
        assert ("GET", path) in routes(service), f"{service} {probe} hits {path}, which is no GET route"
    assert one(one(c, "startup_probe"), "http_get")["path"] == "/readyz", "no traffic before the app is ready"


@pytest.mark.parametrize("service", SERVICES)
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


def test_the_worker_takes_only_internal_traffic_and_the_app_gates_every_write_where_iam_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tf = terraform()
    assert tf.resource("google_cloud_run_v2_service", "worker")["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    services = tf.of_kind("google_cloud_run_v2_service")
    assert set(services) == set(SERVICES)
    for service, body in services.items():
        settings = settings_from(cloud_env(service, optional=False), monkeypatch)
        app_checks_tokens = settings.auth is AuthMode.GOOGLE_OIDC and bool(
            settings.auth_audiences and settings.auth_allowed_emails
        )
        assert app_checks_tokens, f"{service}: every write needs an ID token the app verifies"
        # Cloud Run strips the token's signature when its invoker check is on, so the app's check
        # needs it off (README.md, Reliability and security): off, and only ever with the
        # app check asserted above.
        assert body.get("invoker_iam_disabled") is True, (
            f"{service}: with Cloud Run's invoker check on, the app could verify no token"
        )
    # With the check off a run.invoker grant would look like a gate and be none.
    invoker_grants = [kind for kind in tf.resources if kind.startswith("google_cloud_run_v2_service_iam_")]
    assert invoker_grants == []
    public = re.findall(r"\ball(?:Users|AuthenticatedUsers)\b", tf.text)
    assert public == [], "no resource may be granted to allUsers or allAuthenticatedUsers"


@pytest.mark.parametrize("service", SERVICES)
def test_the_token_each_caller_sends_is_the_one_its_service_accepts(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tf = terraform()
    token = caller_token(service)
    settings = settings_from(cloud_env(service, optional=False), monkeypatch)
    audience = render(token["audience"])
    assert audience in settings.auth_audiences
    custom = tf.resource("google_cloud_run_v2_service", service)["custom_audiences"]
    assert audience in [render(a) for a in custom], "the service's custom audience, should IAM come back"
    # Exactly the caller's identity, which is a service account of this configuration.
    caller = CALLERS[service]
    assert token["service_account_email"] == ref(f"google_service_account.{caller}.email")
    assert settings.auth_allowed_emails == [render(token["service_account_email"])]


def test_a_token_for_one_service_is_refused_by_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    accepted = {
        service: settings_from(cloud_env(service, optional=False), monkeypatch) for service in SERVICES
    }
    coordinator, worker = accepted["coordinator"], accepted["worker"]
    assert set(coordinator.auth_audiences).isdisjoint(worker.auth_audiences)
    assert set(coordinator.auth_allowed_emails).isdisjoint(worker.auth_allowed_emails)


def test_operators_may_mint_only_the_scheduler_identitys_id_tokens() -> None:
    tf = terraform()
    grants = [m for m in iam_members("google_service_account_iam_member") if m["member"] == ref("each.value")]
    assert len(grants) == 1
    grant = grants[0]
    assert grant["for_each"] == ref("toset(var.operator_members)")
    assert grant["service_account_id"] == ref("google_service_account.scheduler.name")
    # ID tokens only: not roles/iam.serviceAccountTokenCreator, which also mints access tokens.
    assert grant["role"] == "roles/iam.serviceAccountOpenIdTokenCreator"
    assert tf.variables["operator_members"]["default"] == []
    assert "iamcredentials.googleapis.com" in tf.locals["apis"]
    assert tf.outputs["coordinator_audience"]["value"] == ref("local.coordinator_audience")
    assert tf.outputs["scheduler_service_account"]["value"] == ref("google_service_account.scheduler.email")


# -- Pub/Sub: push route, OIDC, dead letters ------------------------------------------------------


def test_the_push_subscription_delivers_to_the_workers_push_route() -> None:
    from worker.app import PUSH_PATH

    push = one(terraform().resource("google_pubsub_subscription", "worker_push"), "push_config")
    assert push["push_endpoint"] == ref("google_cloud_run_v2_service.worker.uri") + PUSH_PATH
    assert ("POST", PUSH_PATH) in routes("worker")


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


def test_the_workers_writes_give_up_before_the_push_ack_deadline_cuts_the_request() -> None:
    tf = terraform()
    timeout = tf.resolve(service_env("worker")["NBA_PROPS_QUERY_TIMEOUT_S"])
    deadline = tf.resolve(tf.resource("google_pubsub_subscription", "worker_push")["ack_deadline_seconds"])
    assert 0 < timeout < deadline, "past the deadline Cloud Run cuts the request before the app answers 503"


def test_failed_messages_are_dead_lettered_after_five_attempts() -> None:
    tf = terraform()
    subscription = tf.resource("google_pubsub_subscription", "worker_push")
    policy = one(subscription, "dead_letter_policy")
    assert policy["dead_letter_topic"] == ref("google_pubsub_topic.dead_letter.id")
    attempts = tf.resolve(policy["max_delivery_attempts"])
    assert attempts == 5 == Settings.model_fields["max_delivery_attempts"].default
    assert tf.resolve(service_env("worker")["NBA_PROPS_MAX_DELIVERY_ATTEMPTS"]) == attempts


def test_dead_letters_are_recorded_by_the_workers_dead_letter_route() -> None:
    from worker.dead_letters import DEAD_LETTER_PATH

    tf = terraform()
    recorder = tf.resource("google_pubsub_subscription", "dead_letter_recorder")
    assert recorder["topic"] == ref("google_pubsub_topic.dead_letter.id")
    push = one(recorder, "push_config")
    assert push["push_endpoint"] == ref("google_cloud_run_v2_service.worker.uri") + DEAD_LETTER_PATH
    assert ("POST", DEAD_LETTER_PATH) in routes("worker")
    # Signed like the request push, for the audience and identity the worker accepts.
    assert one(push, "oidc_token") == one(
        one(tf.resource("google_pubsub_subscription", "worker_push"), "push_config"), "oidc_token"
    )
    assert "dead_letter_policy" not in recorder, "the end of the line: nowhere further to send"


def test_dead_letters_are_kept_on_a_subscription_that_never_expires() -> None:
    tf = terraform()
    keepers = [
        s
        for s in tf.of_kind("google_pubsub_subscription").values()
        if s["topic"] == ref("google_pubsub_topic.dead_letter.id") and "push_config" not in s
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
    ["start", "grade", "stall_check"],
)
def test_each_scheduled_job_posts_to_a_real_coordinator_route(call: str) -> None:
    job = terraform().resource("google_cloud_scheduler_job", "coordinator")
    target = one(job, "http_target")
    assert target["uri"] == ref("google_cloud_run_v2_service.coordinator.uri") + ref("each.value.path")
    assert target["http_method"] == "POST"
    path = scheduled_calls()[call]["path"]
    assert ("POST", path) in routes("coordinator"), f"the coordinator has no POST {path}"


def test_every_scheduled_job_is_one_resource_sending_the_scheduler_identitys_token() -> None:
    job = terraform().resource("google_cloud_scheduler_job", "coordinator")
    assert job["for_each"] == ref("local.scheduled_calls")
    token = one(one(job, "http_target"), "oidc_token")
    assert "each." not in json.dumps(token), "every call, whatever its route, carries the same token"


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


# -- Alerts: the webhook secret, the optional topic, the log-based policy ---------------------------


def test_the_alert_webhook_reaches_the_coordinator_as_a_secret_reference_never_as_a_value() -> None:
    tf = terraform()
    webhook = service_env_vars("coordinator")["NBA_PROPS_ALERT_WEBHOOK_URL"]
    assert webhook.value is None and webhook.secret_ref is not None, "a Secret Manager reference"
    assert webhook.secret_ref == {
        "secret": ref("google_secret_manager_secret.alert_webhook.secret_id"),
        "version": ref("env.value"),
    }
    # Off until an operator names a version they added; a pinned version, since Cloud Run reads it
    # when an instance starts.
    assert webhook.only_if is not None and "var.alert_webhook_secret_version" in webhook.only_if
    assert tf.variables["alert_webhook_secret_version"]["default"] == ""
    assert "NBA_PROPS_ALERT_WEBHOOK_URL" not in service_env_vars("worker")
    # The value never enters the configuration or the state: no version resource (its secret_data
    # would be stored in the state), no variable or local holding a URL.
    assert tf.of_kind("google_secret_manager_secret_version") == {}
    assert re.findall(r"https://hooks\.|secret_data", tf.text) == []
    # The setting the reference feeds is a secret in the code too (never logged).
    assert "SecretStr" in str(Settings.model_fields["alert_webhook_url"].annotation)


def test_only_the_coordinator_may_read_the_webhook_secret_and_only_that_secret() -> None:
    tf = terraform()
    grants = [
        (m["secret_id"], m["role"], m["member"])
        for m in iam_members("google_secret_manager_secret_iam_member")
    ]
    assert grants == [
        (
            ref("google_secret_manager_secret.alert_webhook.id"),
            "roles/secretmanager.secretAccessor",
            ref("google_service_account.coordinator.member"),
        )
    ]
    project_roles = [m["role"] for m in iam_members("google_project_iam_member")]
    assert not [r for r in project_roles if r.startswith("roles/secretmanager.")], "no project-wide access"
    # Cloud Run checks at deployment that the runtime identity may read each referenced secret.
    depends = tf.resource("google_cloud_run_v2_service", "coordinator")["depends_on"]
    assert ref("google_secret_manager_secret_iam_member.coordinator_reads_alert_webhook") in depends
    assert "secretmanager.googleapis.com" in tf.locals["apis"]


def test_the_alert_topic_is_optional_and_only_the_coordinator_publishes_to_it() -> None:
    tf = terraform()
    topic = tf.resource("google_pubsub_topic", "alerts")
    assert topic["count"] == ref("var.alert_topic_enabled ? 1 : 0")
    assert tf.variables["alert_topic_enabled"]["default"] is False
    setting = service_env_vars("coordinator")["NBA_PROPS_ALERT_PUBSUB_TOPIC"]
    assert setting == EnvVar(value=ref("env.value.name"), only_if=ref("google_pubsub_topic.alerts"))
    assert "NBA_PROPS_ALERT_PUBSUB_TOPIC" not in service_env_vars("worker")
    grants = [
        m
        for m in iam_members("google_pubsub_topic_iam_member")
        if m["topic"].startswith("${google_pubsub_topic.alerts")
    ]
    assert grants == [
        {
            "count": ref("length(google_pubsub_topic.alerts)"),
            "topic": ref("google_pubsub_topic.alerts[count.index].id"),
            "role": "roles/pubsub.publisher",
            "member": ref("google_service_account.coordinator.member"),
        }
    ]


_SEVERITY_ORDER = ["DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"]
_CLAUSE = re.compile(r'^([\w.]+)(>=|=|:)(?:"([^"]*)"|(\w+))$')


def log_filter_matches(log_filter: str, entry: dict[str, Any]) -> bool:
    """Cloud Logging's filter, for the conjunctions of plain comparisons the alert policies use."""
    for clause in log_filter.split(" AND "):
        match = _CLAUSE.match(clause.strip())
        assert match, f"the test reads only field=value clauses, not {clause!r}"
        path, operator, quoted, bare = match.groups()
        expected = quoted if quoted is not None else bare
        actual: Any = entry
        for part in path.split("."):
            actual = actual.get(part) if isinstance(actual, dict) else None
        if operator == ">=" and path == "severity":
            ok = _SEVERITY_ORDER.index(str(actual)) >= _SEVERITY_ORDER.index(expected)
        elif operator == ":":
            ok = expected in str(actual)
        else:
            ok = actual == expected
        if not ok:
            return False
    return True


def logged_alert(severity: str, delivery: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The log entry Cloud Logging makes of one alert the coordinator raises, logged by the real sink."""
    from coordinator.alerts import Alert, AlertKind, Severity, StructuredLogSink
    from shared.logging import configure_logging
    from shared.settings import LogFormat

    configure_logging(Settings(log_format=LogFormat.JSON))
    capsys.readouterr()
    alert = Alert(AlertKind.PREDICTION_BIAS, Severity(severity), "bias", key="2026-12-01")
    StructuredLogSink().send(alert, delivery=delivery)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 1, lines
    # Rendered as the policies render a reference to the service's name.
    coordinator = render(ref("google_cloud_run_v2_service.coordinator.name"))
    return {
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": coordinator}},
        "severity": lines[0]["severity"],
        "jsonPayload": lines[0],
    }


def test_a_warning_alert_the_coordinator_logs_is_sent_to_the_on_call_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    policy = terraform().resource("google_monitoring_alert_policy", "coordinator_warning")
    assert policy["notification_channels"] == ref("local.notification_channels")
    condition = one(one(policy, "conditions"), "condition_matched_log")
    log_filter = render(condition["filter"])
    assert log_filter_matches(log_filter, logged_alert("warning", "claimed", capsys))
    # A raise the alert manager rate-limited is logged, not sent: the e-mail follows the same rule.
    assert not log_filter_matches(log_filter, logged_alert("warning", "rate_limited", capsys))
    # ERROR and worse already match "a service logged an error": one e-mail, not two.
    error = logged_alert("error", "claimed", capsys)
    assert not log_filter_matches(log_filter, error)
    service_error = one(
        one(terraform().resource("google_monitoring_alert_policy", "service_error"), "conditions"),
        "condition_matched_log",
    )
    assert "severity>=ERROR" in service_error["filter"] and error["severity"] == "ERROR"
    # Each label the policy extracts is a field the alert's log line has.
    entry = logged_alert("warning", "claimed", capsys)
    for extractor in condition["label_extractors"].values():
        field = re.fullmatch(r"EXTRACT\(jsonPayload\.(\w+)\)", extractor)
        assert field and field.group(1) in entry["jsonPayload"], extractor
    assert one(one(policy, "alert_strategy"), "notification_rate_limit")


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
