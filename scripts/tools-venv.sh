#!/usr/bin/env bash
# Deployment lint tools in their own virtualenv (default .venv-tools): checkov pins dozens of
# packages (boto3, networkx, ...) that must never touch the project's environment.
# Idempotent: a stamp naming the pinned versions skips the install when nothing changed.
set -euo pipefail

VENV="${1:-.venv-tools}"
PYTHON="${PYTHON:-python3.11}"
CHECKOV_VERSION="3.3.30"
STAMP="$VENV/.installed-checkov-$CHECKOV_VERSION"

if [[ -f "$STAMP" ]]; then
    exit 0
fi
command -v "$PYTHON" >/dev/null || { echo "need $PYTHON on PATH" >&2; exit 1; }
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
# Fail here, not in the middle of the test run, if the install is broken.
"$VENV/bin/checkov" --version >/dev/null
touch "$STAMP"
