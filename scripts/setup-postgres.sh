#!/usr/bin/env bash
# Idempotently builds pgvector 0.8.0 from Debian's own source package, installs it into the
# machine's PostgreSQL 15, and creates the test database with the extension.
# Usage: scripts/setup-postgres.sh [DBNAME]   (default: quorum_test)
set -euo pipefail
DB="${1:-quorum_test}"
PG_MAJOR="${PG_MAJOR:-15}"
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
[ -x "$PG_CONFIG" ] || PG_CONFIG=/usr/bin/pg_config
BUILD_DIR="${PGVECTOR_BUILD_DIR:-/tmp/quorum-pgvector-build}"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

log() { printf '[setup-postgres] %s\n' "$*"; }

ensure_server() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    log "PostgreSQL not answering; starting cluster ${PG_MAJOR}/main"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 -q || { log "PostgreSQL is not reachable on 127.0.0.1:5432"; exit 1; }
}

sharedir="$($PG_CONFIG --sharedir)"
if [ -f "$sharedir/extension/vector.control" ]; then
  log "pgvector already installed in $sharedir"
else
  export DEBIAN_FRONTEND=noninteractive
  if ! grep -rqs 'deb-src .*trixie main' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding deb-src for trixie main"
    echo 'deb-src http://deb.debian.org/debian trixie main' | $SUDO tee /etc/apt/sources.list.d/quorum-trixie-src.list >/dev/null
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "postgresql-server-dev-${PG_MAJOR}" dpkg-dev make gcc >/dev/null
  PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"; [ -x "$PG_CONFIG" ] || PG_CONFIG=/usr/bin/pg_config
  rm -rf "$BUILD_DIR"; mkdir -p "$BUILD_DIR"; cd "$BUILD_DIR"
  apt-get source --download-only pgvector >/dev/null 2>&1 || $SUDO apt-get source --download-only pgvector
  tarball="$(ls pgvector_*.orig.tar.* | head -1)"
  tar xf "$tarball"
  src="$(find . -maxdepth 1 -type d -name 'pgvector-*' | head -1)"
  cd "$src"
  make -s PG_CONFIG="$PG_CONFIG" with_llvm=no
  $SUDO make -s PG_CONFIG="$PG_CONFIG" with_llvm=no install
  log "pgvector built and installed from $tarball"
  cd /
fi

ensure_server
if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='${DB}'" | grep -q 1; then
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE \"${DB}\""
  log "created database ${DB}"
fi
psql -h 127.0.0.1 -U postgres -d "$DB" -qc 'CREATE EXTENSION IF NOT EXISTS vector'
log "ready: postgres://postgres@127.0.0.1:5432/${DB} ($(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "SELECT extversion FROM pg_extension WHERE extname='vector'" ) )"
