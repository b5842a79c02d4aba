# Shared by the bench scripts (source it after setting ROOT): PostgreSQL 15 binaries, a work directory
# PostgreSQL's user can use, free loopback ports, and a cleanup that stops whatever a run left behind.

PGBIN=${ZENITH_PG_BIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
[ -x "$PGBIN/postgres" ] || PGBIN=/usr/lib/postgresql/15/bin
# PostgreSQL refuses to run as root: vanilla servers run as Debian's postgres user then.
AS_PG=(); if [ "$(id -u)" -eq 0 ]; then AS_PG=(runuser -u postgres --); fi

# One SQL statement as postgres on a loopback port, unaligned tuples only: Q PORT SQL
Q() { "$PGBIN/psql" -X -h 127.0.0.1 -p "$1" -U postgres -Atqc "$2" postgres; }

# A zenith daemon's clients log in with the passwords it wrote to ZENITH_HOME/pgpass (each pg's port and its
# replication port): call zenith_passwords after each `zenith pg create`; it gathers the pgpass of every daemon
# homed in WORK into WORK/pgpass (0600) and exports PGPASSFILE. A server started on a copy or backup of a
# pg's data directory has that pg's password: zenith_same_password PG_PORT NEW_PORT lists it for NEW_PORT.
zenith_passwords() {
  (umask 077; cat "$WORK"/zhome/pgpass "$WORK"/home*/pgpass "$WORK/pgpass.extra" >"$WORK/pgpass" 2>/dev/null) || true
  export PGPASSFILE="$WORK/pgpass"
}
zenith_password_of() { grep -m1 "^127.0.0.1:$1:" "$WORK/pgpass" | cut -d: -f5-; }
zenith_same_password() { (umask 077; echo "127.0.0.1:$2:*:postgres:$(zenith_password_of "$1")" >>"$WORK/pgpass.extra"); zenith_passwords; }
# GET on the REST API of the daemon of ZENITH_HOME, with its token: zenith_api /pgs/bench
zenith_api() { curl -s -H "Authorization: Bearer $(head -1 "$ZENITH_HOME/api-token")" "http://127.0.0.1:$ZENITH_HTTP_PORT$1"; }

# The port in a `zenith pg create --json` answer read from stdin.
port_of() { sed -n 's/.*"port" : \([0-9]*\).*/\1/p'; }

# A zenith daemon homed in WORK/zhome (its ZENITH_* ports exported) with a pg named bench on port ZPORT.
start_zenith_bench() {
  export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
  "$ROOT/zenith" start >/dev/null
  ZPORT=$("$ROOT/zenith" pg create -n bench --json | port_of)
  zenith_passwords
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Sets WORK to a new directory /tmp/NAME-XXXXXX and removes it (and stops what runs in it) on exit;
# KEEP=1 keeps it.
bench_workdir() {
  WORK=$(mktemp -d "/tmp/$1-XXXXXX"); chmod 755 "$WORK"
  # As root, PostgreSQL's user makes its clusters in WORK, which stays root's (sticky, like /tmp): zenith
  # refuses to make its home in a directory another user owns.
  if [ "$(id -u)" -eq 0 ]; then chmod 1777 "$WORK"; fi
  trap bench_cleanup EXIT
}

# Vanilla servers in WORK, a background pg_receivewal (RECV_PID), the daemons homed in WORK/zhome or WORK/home*.
bench_cleanup() {
  local pidfile
  for pidfile in "$WORK"/*/postmaster.pid; do
    [ -f "$pidfile" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -w stop >/dev/null 2>&1 || true
  done
  [ -n "${RECV_PID:-}" ] && kill "$RECV_PID" 2>/dev/null || true
  local home
  for home in "$WORK"/zhome "$WORK"/home*; do
    [ -d "$home" ] && ZENITH_HOME="$home" "$ROOT/zenith" stop >/dev/null 2>&1 || true
  done
  # S3Proxy last: a daemon's stop waits (up to offload.stop_wait_ms) until S3 holds what its s3 storages hold
  [ -n "${S3_PID:-}" ] && kill "$S3_PID" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}

# A vanilla PostgreSQL 15 cluster (port VPORT, data in WORK/vanilla) and a zenith primary named bench (port
# ZPORT, its daemon homed in WORK/zhome), both initialized for pgbench at SCALE. Extra settings for the
# vanilla cluster come as arguments ("-c name=value" ...). Sets VPORT, ZPORT and the daemon's ZENITH_* ports.
start_vanilla_and_zenith() {
  VPORT=$(free_port)
  "${AS_PG[@]}" "$PGBIN/initdb" -D "$WORK/vanilla" -U postgres --data-checksums --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/vanilla" -l "$WORK/vanilla.log" -w -o "-c port=$VPORT -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories= -c shared_buffers=128MB -c max_connections=100 -c max_wal_size=1GB -c wal_level=replica $*" \
    start >/dev/null
  export ZENITH_HOME="$WORK/zhome" ZENITH_HTTP_PORT=$(free_port) ZENITH_PG_PORT=$(free_port) ZENITH_COMPUTE_FIRST_PORT=$(free_port)
  "$ROOT/zenith" start >/dev/null
  ZPORT=$("$ROOT/zenith" pg create -n bench --json | sed -n 's/.*"port" : \([0-9]*\).*/\1/p')
  zenith_passwords
  local p
  for p in "$VPORT" "$ZPORT"; do "$PGBIN/pgbench" -h 127.0.0.1 -p "$p" -U postgres -i -q -s "$SCALE" postgres >/dev/null 2>&1; done
}

# pgbench TPC-B on a port (CLIENTS clients, 2 threads, ROUND_SECONDS); pgbench's report on stdout.
pgbench_tpcb() {
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$1" -U postgres -n -c "$CLIENTS" -j 2 -T "$ROUND_SECONDS" postgres
}

# The TPS (whole transactions per second) of a pgbench report read from stdin.
tps_of() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | cut -d. -f1; }

# One pgbench TPC-B round on a port after a CHECKPOINT; prints its TPS.
pgbench_round() {
  Q "$1" "CHECKPOINT"
  pgbench_tpcb "$1" 2>/dev/null | tps_of
}

# S3Proxy (filesystem backend, under WORK/s3) on a free loopback port with a bucket named $1: sets S3PORT, S3_PID and
# the AWS_* credentials every S3 client of the run (the daemons, the aws CLI) takes; stopped on exit (after the daemons).
start_s3proxy() {
  local jar
  jar=$(ls ~/.m2/repository/org/gaul/s3proxy/*/s3proxy-*-jar-with-dependencies.jar 2>/dev/null | tail -1)
  [ -f "$jar" ] || { echo "no S3Proxy jar in ~/.m2 (mvn -pl testkit -am install fetches it)" >&2; exit 1; }
  S3PORT=$(free_port); mkdir -p "$WORK/s3/data/$1"
  export AWS_ACCESS_KEY_ID=bench-key AWS_SECRET_ACCESS_KEY=bench-secret-$RANDOM AWS_DEFAULT_REGION=us-east-1
  cat >"$WORK/s3/s3proxy.conf" <<CONF
s3proxy.endpoint=http://127.0.0.1:$S3PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$AWS_ACCESS_KEY_ID
s3proxy.credential=$AWS_SECRET_ACCESS_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$WORK/s3/data
CONF
  echo "== S3Proxy on 127.0.0.1:$S3PORT" >&2
  LOG_LEVEL=warn java -Xmx512m -jar "$jar" --properties "$WORK/s3/s3proxy.conf" >"$WORK/s3/s3proxy.log" 2>&1 &
  S3_PID=$! # stopped by bench_cleanup, after the daemons
  until curl -s -o /dev/null "http://127.0.0.1:$S3PORT"; do sleep 0.2; done
}
