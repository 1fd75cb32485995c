#!/usr/bin/env bash
# Back up a docker-compose deployment of tiepdan into one dated directory:
#   database.dump     pg_dump of PostgreSQL (custom format: pg_restore reads it)
#   archive/          a mirror of the archive bucket (every object and its current version)
#   env               .env: every key, including the archive's signing key (keep it secret)
#   SHA256SUMS        the hash of every file above
#
#   scripts/backup.sh /mnt/backup            # from the directory holding docker-compose.yml
#
# Run it daily (cron: `30 1 * * * cd /opt/tiepdan && scripts/backup.sh /mnt/backup`), onto a
# disk or host apart from this one. The archive's own protection is object lock in MinIO; this
# copy is for losing the server. For a second copy that is itself object-locked, replicate the
# bucket to a second MinIO instead (README.md, "Backups").
set -euo pipefail

target_root=${1:?usage: scripts/backup.sh TARGET_DIRECTORY}
cd "$(dirname "$0")/.."
[ -f .env ] || { echo "no .env here: run from the deployment's directory" >&2; exit 1; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$target_root/tiepdan-$stamp"
mkdir -p "$target"
chmod 700 "$target"

echo "database -> $target/database.dump"
# The user and database as the postgres container has them (from .env).
docker compose exec -T postgres \
  sh -c 'pg_dump --format=custom --username="$POSTGRES_USER" "$POSTGRES_DB"' \
  > "$target/database.dump"

echo "archive bucket -> $target/archive/"
mkdir -p "$target/archive"
docker compose run --rm --no-deps -T \
  -v "$(realpath "$target/archive"):/backup" \
  --entrypoint /bin/sh minio-init -c \
  'mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null &&
   mc mirror --preserve "local/$BUCKET" /backup'

echo "keys -> $target/env"
install -m 600 .env "$target/env"

(cd "$target" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)
echo "done: $target ($(du -sh "$target" | cut -f1))"
