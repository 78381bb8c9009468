#!/usr/bin/env bash
# Install everything the harness needs on a fresh Debian machine, then prepare the
# cached artefacts (base image, Toxiproxy). Safe to re-run: each step skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v go >/dev/null || need_apt+=(golang-go)
command -v iptables >/dev/null || need_apt+=(iptables)
command -v wrk >/dev/null || need_apt+=(wrk)  # scripts/bench_load.py compares Locust with it
command -v chromium >/dev/null || need_apt+=(chromium fonts-wqy-zenhei)  # the report test renders index.html headless
command -v npm >/dev/null || need_apt+=(nodejs npm)  # MITRE's saf CLI and Heimdall Lite check the HDF output
command -v openssl >/dev/null || need_apt+=(openssl)  # README: verify a bundle without the harness
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import harness, infra' 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  echo "setup: installing pinned Python dependencies"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch .venv/.installed
fi

# Independent checkers of the evidence (tests only): pinned by scripts/assessor-tools/package-lock.json,
# installed once into the cache and again only when the lock file changes.
tools="${IHH_CACHE_DIR:-$HOME/.cache/ihh}/assessor-tools"
if ! cmp -s scripts/assessor-tools/package-lock.json "$tools/package-lock.json" \
   || [ ! -x "$tools/node_modules/.bin/saf" ]; then
  echo "setup: installing MITRE saf and Heimdall Lite into $tools"
  mkdir -p "$tools"
  cp scripts/assessor-tools/package.json scripts/assessor-tools/package-lock.json "$tools/"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
fi

.venv/bin/harness setup
