"""The images, checked without a Docker engine: both Dockerfiles are read and held to what
pyproject.toml, the settings and the code they copy say."""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from pydantic import ValidationError

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("coordinator", "worker")
PROJECT_PACKAGES = frozenset({"shared", "coordinator", "worker", "nba_props"})
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SETTINGS_PREFIX = "NBA_PROPS_"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int  # index of the FROM this instruction belongs to; -1 before the first FROM


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped, as Docker reads them."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    instructions: list[Instruction] = []
    stage = -1
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    return instructions


@dataclass(frozen=True)
class Dockerfile:
    service: str
    path: Path
    instructions: list[Instruction]

    @classmethod
    def of(cls, service: str) -> Dockerfile:
        path = ROOT / f"Dockerfile.{service}"
        return cls(service, path, parse_dockerfile(path.read_text()))

    def all(self, keyword: str, stage: int | None = None) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword and (stage is None or i.stage == stage)]

    @property
    def final_stage(self) -> int:
        return max(i.stage for i in self.instructions)

    @property
    def args(self) -> dict[str, str]:
        """Every ARG with its default (a later declaration of the same name wins)."""
        found: dict[str, str] = {}
        for instruction in self.all("ARG"):
            name, _, default = instruction.args.partition("=")
            found[name.strip()] = default.strip()
        return found

    def expand(self, text: str) -> str:
        args = self.args
        return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), text)

    def env(self, stage: int) -> dict[str, str]:
        found: dict[str, str] = {}
        for instruction in self.all("ENV", stage):
            for pair in shlex.split(instruction.args):
                name, sep, value = pair.partition("=")
                assert sep, f"use ENV NAME=value, not the legacy form: {instruction.args}"
                found[name] = value
        return found

    def copies(self) -> list[tuple[list[str], str, Instruction]]:
        """(sources, destination, instruction) of every COPY from the build context."""
        out: list[tuple[list[str], str, Instruction]] = []
        for instruction in self.all("COPY"):
            if instruction.args.startswith("["):
                tokens = json.loads(instruction.args)
            else:
                tokens = shlex.split(instruction.args)
            if any(t.startswith("--from=") for t in tokens):
                continue
            tokens = [t for t in tokens if not t.startswith("--")]
            out.append((tokens[:-1], tokens[-1], instruction))
        return out

    def copied_packages(self) -> set[str]:
        """The project's packages among the COPY sources."""
        return {source.strip("/") for sources, _, _ in self.copies() for source in sources} & PROJECT_PACKAGES

    def served(self) -> tuple[str, dict[str, str]]:
        """The final CMD, which must be `uvicorn MODULE:APP --option value ...`: (MODULE:APP, options)."""
        commands = self.all("CMD", self.final_stage)
        assert len(commands) == 1
        assert commands[0].args.startswith("["), "exec form: the server is PID 1 and gets SIGTERM"
        argv = json.loads(commands[0].args)
        assert argv[0] == "uvicorn", argv
        options = argv[2:]
        assert len(options) % 2 == 0 and all(o.startswith("--") for o in options[::2]), argv
        return argv[1], dict(zip(options[::2], options[1::2], strict=True))

    def run_containing(self, marker: str) -> Instruction:
        matches = [i for i in self.all("RUN") if marker in i.args]
        assert len(matches) == 1, (
            f"{self.path.name}: expected one RUN containing {marker!r}, found {len(matches)}"
        )
        return matches[0]


@pytest.fixture(params=SERVICES)
def dockerfile(request: pytest.FixtureRequest) -> Dockerfile:
    return Dockerfile.of(request.param)


def dockerignore_rules() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def is_ignored(path: str, rules: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories wins."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for rule in rules:
        negated = rule.startswith("!")
        pattern = rule.removeprefix("!").strip("/")
        candidates = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(prefix, p) for prefix in prefixes for p in candidates):
            ignored = not negated
    return ignored


def _sample_file(directory: Path) -> Path:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            return path
    raise AssertionError(f"{directory} holds no file")


# -- Stages, base image, layer order ----------------------------------------------------------


def test_the_image_is_built_in_stages_from_a_slim_python_the_project_supports(dockerfile: Dockerfile) -> None:
    bases = [dockerfile.expand(i.args.split()[0]) for i in dockerfile.all("FROM")]
    assert len(bases) >= 2, "a build stage and a runtime stage"
    supported = SpecifierSet(PYPROJECT["requires-python"])
    for base in bases:
        match = re.fullmatch(r"python:(\d+\.\d+)-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base)
        assert match, f"{base} is not a slim official Python image"
        assert f"{match.group(1)}.0" in supported, f"{base} is outside requires-python {supported}"
    final = dockerfile.final_stage
    assert any("--from=" in i.args for i in dockerfile.all("COPY", final)), (
        "the runtime stage copies the build"
    )
    assert not any("pip install" in i.args for i in dockerfile.all("RUN", final)), (
        "nothing is built at runtime"
    )


def test_dependencies_are_installed_before_the_code_is_copied(dockerfile: Dockerfile) -> None:
    build = [i for i in dockerfile.instructions if i.stage == 0]
    install = next(n for n, i in enumerate(build) if i.keyword == "RUN" and "--requirement" in i.args)
    copied_before = [
        src for n, i in enumerate(build[:install]) if i.keyword == "COPY" for src in shlex.split(i.args)[:-1]
    ]
    assert copied_before == ["pyproject.toml"], "only pyproject.toml may be in the dependency layer"
    code_copies = [n for n, i in enumerate(build) if i.keyword == "COPY" and n > install]
    assert code_copies, "the code is copied after the dependencies"
    project_install = next(
        n for n, i in enumerate(build) if i.keyword == "RUN" and "install --no-deps ." in i.args
    )
    assert project_install > max(code_copies)


def _requirements_the_image_installs(dockerfile: Dockerfile) -> list[str]:
    """Run the Dockerfile's own requirements one-liner against this checkout's pyproject.toml."""
    command = dockerfile.run_containing("tomllib").args.split(">", 1)[0]
    argv = shlex.split(command)
    assert argv[:2] == ["python", "-c"], argv
    env = {**os.environ, **dockerfile.args}
    result = subprocess.run(
        [sys.executable, "-c", argv[2]], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def test_the_image_installs_the_core_and_only_its_own_extra(dockerfile: Dockerfile) -> None:
    extra = dockerfile.args.get("EXTRA")
    # The coordinator needs nothing beyond the core; the worker adds the extra named after it.
    assert extra == ("worker" if dockerfile.service == "worker" else None)
    assert extra is None or extra in PYPROJECT["optional-dependencies"], (
        f"pyproject.toml has no [{extra}] extra"
    )
    expected = PYPROJECT["dependencies"] + (PYPROJECT["optional-dependencies"][extra] if extra else [])
    installed = _requirements_the_image_installs(dockerfile)
    assert installed == expected
    has_catboost = any(req.lower().startswith("catboost") for req in installed)
    assert has_catboost is (dockerfile.service == "worker"), "CatBoost belongs to the worker image only"


def test_the_coordinator_serves_without_catboost_installed() -> None:
    # The coordinator image has no CatBoost; the app it serves must not import it.
    target, _ = Dockerfile.of("coordinator").served()
    module, _, attribute = target.partition(":")
    code = (
        "import importlib, sys; sys.modules['catboost'] = None\n"
        f"getattr(importlib.import_module({module!r}), {attribute!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def _project_imports(package: str) -> set[str]:
    """The project packages any module of `package` imports, at module level or inside a function."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found & PROJECT_PACKAGES


def test_each_image_copies_the_shared_package_and_its_own_service_only(dockerfile: Dockerfile) -> None:
    assert dockerfile.copied_packages() == {"shared", dockerfile.service}
    other = {"coordinator": "worker", "worker": "coordinator"}[dockerfile.service]
    for sources, _, _ in dockerfile.copies():
        for source in sources:
            assert not source.strip("/").startswith((other, "nba_props")), f"COPY {source}"


def test_the_code_an_image_copies_imports_nothing_it_leaves_out(dockerfile: Dockerfile) -> None:
    copied = dockerfile.copied_packages()
    missing = {package: _project_imports(package) - copied for package in sorted(copied)}
    assert {k: v for k, v in missing.items() if v} == {}


# -- Build context -----------------------------------------------------------------------------


def test_every_copy_source_is_in_the_repository_and_in_the_build_context(dockerfile: Dockerfile) -> None:
    rules = dockerignore_rules()
    model_arg = "MODEL_DIR"
    for sources, _, instruction in dockerfile.copies():
        for source in sources:
            if model_arg in source:
                continue  # a build input made by `nba-props train`; checked below
            path = ROOT / dockerfile.expand(source)
            assert path.exists(), f"COPY {source}: no such file in the repository"
            sample = _sample_file(path) if path.is_dir() else path
            relative = sample.relative_to(ROOT).as_posix()
            assert not is_ignored(relative, rules), f"COPY {source}: .dockerignore leaves {relative} out"
        assert instruction.stage >= 0


def test_the_build_context_holds_what_the_images_copy_and_nothing_else() -> None:
    allowed = {rule.removeprefix("!").strip("/") for rule in dockerignore_rules() if rule.startswith("!")}
    copied = {
        Dockerfile.of(service).expand(source).split("/")[0]
        for service in SERVICES
        for sources, _, _ in Dockerfile.of(service).copies()
        for source in sources
    }
    assert allowed == copied


def test_the_build_context_leaves_out_local_state_and_secrets() -> None:
    rules = dockerignore_rules()
    for path in (
        ".git/config",
        ".venv/bin/python",
        ".venv-tools/bin/checkov",
        "data/nba_props.duckdb",
        "deploy/terraform/terraform.tfstate",
        "shared/__pycache__/schema.cpython-311.pyc",
        ".env",
    ):
        assert is_ignored(path, rules), f"{path} would be sent to the Docker daemon"
    assert not is_ignored("shared/schema.py", rules)


def test_the_worker_bakes_in_the_bundle_from_where_training_writes_it() -> None:
    worker = Dockerfile.of("worker")
    default_dir = Settings.model_fields["model_dir"].default
    assert worker.args["MODEL_DIR"] == default_dir.as_posix(), (
        "the build default is NBA_PROPS_MODEL_DIR's default"
    )
    model_copies = [(src, dest) for src, dest, _ in worker.copies() if any("MODEL_DIR" in s for s in src)]
    assert len(model_copies) == 1
    _, destination = model_copies[0]
    env = worker.env(worker.final_stage)
    assert env["NBA_PROPS_MODEL_DIR"].rstrip("/") == destination.rstrip("/")
    rules = dockerignore_rules()
    for name in ("model.cbm", "manifest.json"):
        assert not is_ignored(f"{default_dir.as_posix()}/{name}", rules), f".dockerignore leaves out {name}"


def test_the_coordinator_carries_no_model() -> None:
    coordinator = Dockerfile.of("coordinator")
    assert "MODEL_DIR" not in coordinator.args
    assert "NBA_PROPS_MODEL_DIR" not in coordinator.env(coordinator.final_stage)


# -- Model bundle check at build time ------------------------------------------------------------


def _bundle_check(bundle: Path) -> subprocess.CompletedProcess[str]:
    """The worker Dockerfile's bundle check, run as written against ``bundle``."""
    worker = Dockerfile.of("worker")
    argv = shlex.split(worker.run_containing("ModelBundle.load").args)
    assert argv[0] == "python" and argv[1] == "-c" and argv[3] == "/app/model", argv
    return subprocess.run(
        [sys.executable, "-c", argv[2], str(bundle)], cwd=ROOT, capture_output=True, text=True
    )


def test_the_worker_build_accepts_a_valid_bundle(model_dir: Path) -> None:
    result = _bundle_check(model_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "model bundle ok" in result.stdout


def test_the_worker_build_refuses_a_tampered_or_missing_bundle(model_dir: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(model_dir, tampered)
    with (tampered / "model.cbm").open("ab") as fh:
        fh.write(b"\0")
    result = _bundle_check(tampered)
    assert result.returncode != 0
    assert "ModelMismatch" in result.stderr

    missing = tmp_path / "missing"
    missing.mkdir()
    result = _bundle_check(missing)
    assert result.returncode != 0
    assert "ModelMissing" in result.stderr


def test_the_worker_checks_its_bundle_as_the_runtime_user() -> None:
    worker = Dockerfile.of("worker")
    final = [i for i in worker.instructions if i.stage == worker.final_stage]
    check = final.index(worker.run_containing("ModelBundle.load"))
    user = max(n for n, i in enumerate(final) if i.keyword == "USER")
    model_copy = max(n for n, i in enumerate(final) if i.keyword == "COPY" and "MODEL_DIR" in i.args)
    assert model_copy < user < check, "a bundle the runtime user cannot read must fail the build"


# -- Runtime -----------------------------------------------------------------------------------


def test_the_image_runs_as_a_user_that_is_not_root(dockerfile: Dockerfile) -> None:
    users = dockerfile.all("USER", dockerfile.final_stage)
    assert users, "the runtime stage sets USER"
    user = users[-1].args.split(":")[0]
    assert user not in {"root", "0"}


def test_the_image_serves_its_service_main_app_with_uvicorn_in_exec_form(dockerfile: Dockerfile) -> None:
    final = dockerfile.final_stage
    assert not dockerfile.all("ENTRYPOINT", final), "CMD alone, so `docker run IMAGE python ...` works"
    target, options = dockerfile.served()
    assert target == f"{dockerfile.service}.main:app"
    assert dockerfile.service in dockerfile.copied_packages()
    # The startup security check reads the bind address from the settings: they must agree.
    assert options["--host"] == dockerfile.env(final)["NBA_PROPS_HOST"]
    assert [i.args for i in dockerfile.all("EXPOSE", final)] == [options["--port"]]
    # Cloud Run allows 10 s after SIGTERM; in-flight requests must finish within them.
    assert 0 < int(options["--timeout-graceful-shutdown"]) < 10


def test_the_app_an_image_serves_is_a_fastapi_application(dockerfile: Dockerfile) -> None:
    from fastapi import FastAPI

    target, _ = dockerfile.served()
    module, _, attribute = target.partition(":")
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not in this checkout yet")
    assert isinstance(getattr(importlib.import_module(module), attribute), FastAPI)


def test_the_image_logs_unbuffered_json_and_listens_on_every_interface(dockerfile: Dockerfile) -> None:
    env = dockerfile.env(dockerfile.final_stage)
    assert env.get("PYTHONUNBUFFERED") == "1"
    # The settings default to 127.0.0.1, which Cloud Run's front end cannot reach.
    assert env.get("NBA_PROPS_HOST") == "0.0.0.0"
    assert env.get("NBA_PROPS_LOG_FORMAT") == "json"


def test_every_setting_the_image_sets_is_a_real_one_with_a_valid_value(
    dockerfile: Dockerfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in dockerfile.env(dockerfile.final_stage).items() if k.startswith(SETTINGS_PREFIX)}
    unknown = sorted(k for k in env if k.removeprefix(SETTINGS_PREFIX).lower() not in Settings.model_fields)
    assert unknown == [], f"not settings: {unknown}"
    for name in [k for k in os.environ if k.startswith(SETTINGS_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        Settings()
    except ValidationError as exc:  # pragma: no cover - the assertion message is the point
        pytest.fail(f"{dockerfile.path.name} sets invalid settings: {exc}")
