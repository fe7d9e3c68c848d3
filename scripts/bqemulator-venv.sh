#!/usr/bin/env bash
# The BigQuery emulator (bqemulator 1.4.0) in its own virtualenv, ready to start offline.
#
#   scripts/bqemulator-venv.sh [VENV_DIR]      (default: .venv-bqemu in the repo root)
#
# Why a separate venv: bqemulator needs DuckDB 1.5.5 (see below) while the project uses DuckDB 2.x;
# its pins must never leak into the project's environment.
# Why DuckDB 1.5.5: bqemulator runs `INSTALL spatial` (required: startup fails without it) and
# `INSTALL avro` (best effort) at every start, which downloads from the DuckDB extension host; that
# host is unreachable here and in CI. DuckDB publishes the same extensions as PyPI wheels for 1.5.5,
# so we install those wheels and `INSTALL '<file>'` them once into an extension directory under
# VENV_DIR/duckdb-home. Starting the emulator with HOME=VENV_DIR/duckdb-home then finds them
# installed and downloads nothing. icu and json are statically linked into the DuckDB 1.5.5 wheel
# (checked below), so their extension packages are not needed.
# numpy is listed although bqemulator does not declare it: its startup registers Python UDFs with
# DuckDB, which refuses to do that without numpy.
#
# Idempotent: a stamp holding a hash of everything below the lock is written last; when it matches,
# a second run exits at once. Change the lock (or this script) and the next run reinstalls.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_ARG="${1:-$REPO_ROOT/.venv-bqemu}"
PYTHON="${PYTHON:-python3.11}"
# Names shared with tests/support/bq_emulator.py: keep them in step.
STAMP_NAME=".bqemu-installed"
DUCKDB_HOME_NAME="duckdb-home"
# The extension packages to pre-install, as "<PyPI package>:<DuckDB extension name>".
EXTENSIONS=("duckdb-extension-spatial:spatial" "duckdb-extension-avro:avro")

log() { echo "bqemulator-venv: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Every package pinned (pip freeze of a working install), so CI installs exactly what was tested.
# To upgrade: install the top-level pins (bqemulator, duckdb, the extension packages, numpy) in a
# scratch venv, run the smoke tests against it, and paste its `pip freeze` here.
read -r -d '' LOCK <<'EOF' || true
alembic==1.20.1
annotated-doc==0.0.7
annotated-types==0.8.0
anyio==4.16.0
asgiref==3.13.0
bqemulator==1.4.0
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
click==8.5.1
cryptography==50.0.2
duckdb==1.5.5
duckdb-extension-avro==1.5.5
duckdb-extension-spatial==1.5.5
fastapi==0.165.0
fastavro==1.13.1
google-api-core==2.44.0
google-auth==2.63.0
google-cloud-bigquery-storage==2.43.0
googleapis-common-protos==1.76.0
grpcio==1.85.3
grpcio-health-checking==1.80.1
grpcio-status==1.85.3
grpcio-tools==1.80.1
h11==0.16.0
httpcore==1.0.9
httptools==0.9.0
httpx==0.28.1
idna==3.20
Mako==1.4.3
MarkupSafe==3.0.4
numpy==2.4.6
opentelemetry-api==1.45.2
opentelemetry-exporter-http-transport==0.66b2
opentelemetry-exporter-otlp==1.45.2
opentelemetry-exporter-otlp-common==0.66b2
opentelemetry-exporter-otlp-proto-common==1.45.2
opentelemetry-exporter-otlp-proto-grpc==1.45.2
opentelemetry-exporter-otlp-proto-http==1.45.2
opentelemetry-instrumentation==0.66b2
opentelemetry-instrumentation-asgi==0.66b2
opentelemetry-instrumentation-fastapi==0.66b2
opentelemetry-instrumentation-grpc==0.66b2
opentelemetry-proto==1.45.2
opentelemetry-sdk==1.45.2
opentelemetry-semantic-conventions==0.66b2
opentelemetry-util-http==0.66b2
orjson==3.13.0
packaging==26.4
prometheus_client==0.26.0
proto-plus==1.29.0
protobuf==6.33.6
pyarrow==26.0.1
pyasn1==0.6.5
pyasn1_modules==0.4.2
pycparser==3.12
pydantic==2.14.4
pydantic-settings==2.16.3
pydantic_core==2.50.5
PyJWT==2.15.1
python-dotenv==1.2.4
pytz==2026.6
PyYAML==6.0.4
requests==2.34.2
SQLAlchemy==2.1.9
sqlglot==30.11.0
starlette==1.10.0
structlog==26.1.0
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
uvicorn==0.54.0
uvloop==0.23.0
watchfiles==1.3.0
websockets==17.4
wrapt==2.5.2
EOF

mkdir -p "$VENV_ARG"
VENV="$(cd "$VENV_ARG" && pwd)"
STAMP="$VENV/$STAMP_NAME"
DUCKDB_HOME="$VENV/$DUCKDB_HOME_NAME"
# The stamp covers this whole script (lock, extension list, logic) and the interpreter version.
SPEC_HASH="$(
    { cat "${BASH_SOURCE[0]}"; "$PYTHON" --version 2>&1 || true; } | sha256sum | cut -d' ' -f1
)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$SPEC_HASH" && -x "$VENV/bin/bqemulator" && -d "$DUCKDB_HOME" ]]; then
    log "up to date: $VENV"
    exit 0
fi

command -v "$PYTHON" >/dev/null || die "need $PYTHON on PATH (or set PYTHON=/path/to/python3.11)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "$PYTHON is $("$PYTHON" --version 2>&1); bqemulator is pinned and tested on Python 3.11"

# Reuse an existing 3.11 venv (pip then only changes what differs); recreate a wrong or broken one.
# Only ever delete a directory that is recognisably a venv: VENV_DIR is user input.
if [[ -x "$VENV/bin/python" ]] \
    && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    log "reusing venv $VENV"
else
    if [[ -n "$(ls -A "$VENV")" ]]; then
        [[ -f "$VENV/pyvenv.cfg" ]] || die "$VENV exists, is not empty and is not a virtualenv; refusing to touch it"
        log "removing unusable venv $VENV"
        rm -rf "$VENV"
    fi
    log "creating venv $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
rm -f "$STAMP"

log "installing bqemulator and its pinned dependencies (wheels only)"
LOCK_FILE="$VENV/bqemulator-lock.txt"
printf '%s\n' "$LOCK" >"$LOCK_FILE"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    -r "$LOCK_FILE" || die "pip install failed (see above)"

log "pre-installing DuckDB extensions into $DUCKDB_HOME"
mkdir -p "$DUCKDB_HOME"
# HOME decides DuckDB's default extension directory (~/.duckdb/extensions), both here and in the
# emulator; the fixture starts the emulator with this same HOME.
HOME="$DUCKDB_HOME" "$VENV/bin/python" - "${EXTENSIONS[@]}" <<'PY' || die "installing the DuckDB extensions failed"
import sys
from importlib import metadata
from pathlib import Path

import duckdb

# Refuse to download anything: an extension missing from the wheels must fail here, not in CI.
offline = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
con = duckdb.connect(config=offline)
names = []
for spec in sys.argv[1:]:
    package, name = spec.split(":")
    files = [f for f in metadata.files(package) or [] if f.name == f"{name}.duckdb_extension"]
    if len(files) != 1:
        sys.exit(f"{package}: expected one {name}.duckdb_extension in the wheel, found {files}")
    path = Path(files[0].locate()).resolve()
    con.execute(f"FORCE INSTALL '{path}'")
    names.append(name)
con.close()

# Prove it the way the emulator will need it: a fresh connection loads every extension offline.
check = duckdb.connect(config=offline)
for name in names:
    check.execute(f"LOAD {name}")
loaded = {row[0] for row in check.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
missing = {*names, "icu", "json"} - loaded
if missing:
    sys.exit(f"DuckDB {duckdb.__version__} cannot load {sorted(missing)} offline")
PY

# Fail here, not in the middle of a test run, if the entry point is broken.
"$VENV/bin/bqemulator" --version >/dev/null || die "$VENV/bin/bqemulator --version failed"

echo "$SPEC_HASH" >"$STAMP"
log "ready: $VENV/bin/bqemulator (start it with HOME=$DUCKDB_HOME)"
