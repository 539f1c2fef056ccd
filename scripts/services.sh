#!/usr/bin/env bash
# Make sure PostgreSQL and Redis are installed and running on 127.0.0.1 (for the production
# profile's tests). Installs them from Debian's packages when missing and we are root.
set -euo pipefail
cmd=${1:-ensure}
[ "$cmd" = ensure ] || { echo "usage: $0 ensure"; exit 2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

if ! command -v redis-server >/dev/null; then apt_install redis-server; fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi

if ! command -v pg_ctlcluster >/dev/null; then apt_install postgresql; fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "starting postgresql"
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
# Trust auth on 127.0.0.1 for user postgres is what the machine ships; make sure db "test" exists.
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1 from pg_database where datname='test'" | grep -q 1; then
  psql -h 127.0.0.1 -U postgres -d postgres -c "create database test" || true
fi
redis-cli -h 127.0.0.1 ping >/dev/null && pg_isready -h 127.0.0.1 -p 5432 -q && echo "services: postgresql and redis are up"
