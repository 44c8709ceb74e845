#!/usr/bin/env bash
# Install what logferry needs on a Debian/Ubuntu machine, then the project itself into .venv.
# Idempotent: a second run installs nothing new. Without root it prints the apt command instead.
set -euo pipefail
cd "$(dirname "$0")/.."

# The interpreter .venv is made with: PYTHON=/usr/bin/python3.11 make install picks another.
# The CPython build matters for the CPU a shipper spends (docs/sizing.md, "The interpreter").
python=${PYTHON:-python3}

need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
# `shipper stack up --secure` compiles a small Elasticsearch plugin (shipper/stack/analysis.py).
command -v javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v prometheus-node-exporter >/dev/null 2>&1 || command -v node_exporter >/dev/null 2>&1 || need+=(prometheus-node-exporter)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# The tests' real browser (loadtest's report.html) and real terminal (shipper top).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
"$python" -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)

# Debian starts a packaged daemon on install (prometheus, alertmanager, node exporter); the stack
# runs its own on its own ports. A policy-rc.d that forbids every start (exit 101) keeps apt from
# starting any, for the length of the install: nothing is stopped afterwards, so a server someone
# else runs on this host is never touched. An existing policy-rc.d is the admin's: it is kept.
sudo=()
policy=/usr/sbin/policy-rc.d
apt_install() {
  local ours=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# written by logferry scripts/bootstrap.sh during apt-get install\nexit 101\n' |
      "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    ours=$policy
    trap '"${sudo[@]}" rm -f "$policy"' EXIT
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [ -n "$ours" ]; then
    "${sudo[@]}" rm -f "$ours"
    trap - EXIT
  fi
}

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "bootstrap: installing ${need[*]}"
    apt_install
  elif command -v sudo >/dev/null 2>&1; then
    echo "bootstrap: installing ${need[*]} (sudo)"
    sudo=(sudo)
    apt_install
  else
    echo "bootstrap: missing ${need[*]}; install them with: apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
elif [ -n "${PYTHON:-}" ]; then
  made_with=$(sed -n 's/^executable = //p' .venv/pyvenv.cfg 2>/dev/null || true)
  wanted=$("$PYTHON" -c 'import sys; print(sys.executable)')
  if [ -n "$made_with" ] && [ "$(realpath "$made_with")" != "$(realpath "$wanted")" ]; then
    echo "bootstrap: .venv was made with $made_with, not $PYTHON; 'make clean' first to remake it" >&2
  fi
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing logferry into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# The Kubernetes manifest tests render deploy/kubernetes with `kubectl kustomize`. kubectl is no
# Debian package; where it is missing, build the same kustomize release as a standalone binary
# from the Go module proxy (about 30 s) into .venv/bin, where the tests look for it.
if ! command -v kubectl >/dev/null 2>&1 && ! command -v kustomize >/dev/null 2>&1 \
  && [ ! -x .venv/bin/kustomize ]; then
  if command -v go >/dev/null 2>&1; then
    echo "bootstrap: building kustomize into .venv/bin (no kubectl)"
    GOBIN="$PWD/.venv/bin" go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0
  else
    echo "bootstrap: neither kubectl nor Go (to build kustomize) is installed:" \
      "the Kubernetes manifest tests cannot render deploy/kubernetes" >&2
  fi
fi
