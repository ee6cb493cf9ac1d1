#!/usr/bin/env bash
# Entrypoint of the localizevideos/postgres image.
#
# It honours the environment contract of the official postgres image:
#   POSTGRES_PASSWORD          superuser password; required on first start unless
#                              POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER              superuser name (default postgres)
#   POSTGRES_DB                database created on first start (default POSTGRES_USER)
#   POSTGRES_INITDB_ARGS       extra initdb arguments, split on whitespace (quotes are not
#                              interpreted)
#   POSTGRES_HOST_AUTH_METHOD  pg_hba.conf method for every connection (default scram-sha-256)
#   PGDATA                     data directory (default /var/lib/postgresql/data)
#   POSTGRES_PASSWORD_FILE, POSTGRES_USER_FILE, POSTGRES_DB_FILE
#                              read the value from a file instead, as Docker secrets provide
#
# On the first start (no PG_VERSION in PGDATA) it creates the cluster: it extracts the cluster
# that the image build initialized, or runs initdb when POSTGRES_USER or POSTGRES_INITDB_ARGS
# differ from what that cluster was made with. It then sets the superuser's password, and when
# POSTGRES_DB or init scripts need it, starts a temporary server on the unix socket only,
# creates POSTGRES_DB, runs /docker-entrypoint-initdb.d/* once and stops the server. Finally
# it replaces itself with the real server running as user postgres, so the server is PID 1
# and receives docker stop's signal directly.
#
# Arguments: "postgres [options]" (the default), or options alone, such as "-c fsync=off",
# which are passed to postgres. Any other command, such as "bash", runs as given.
set -Eeuo pipefail

readonly INITDB_SCRIPTS_DIR=/docker-entrypoint-initdb.d
readonly SOCKET_DIR=/var/run/postgresql
readonly OS_USER=postgres

# Present in PGDATA while the first-start initialization runs. A cluster that still has it
# was left half-initialized, and starting it would skip the init scripts silently.
readonly INIT_MARKER=entrypoint-initialization-incomplete

# Deadline for the temporary server to start and stop during initialization.
readonly TEMP_SERVER_TIMEOUT_SECONDS=60

# Tar archive of the cluster that images/postgres/customize.sh ran initdb for at image build
# time, with the superuser below, trust authentication and the image's default locale.
# Extracting it replaces initdb, the largest part of a first start.
readonly INITIALIZED_CLUSTER_ARCHIVE=/usr/share/localizevideos/initialized-cluster.tar
readonly INITIALIZED_CLUSTER_SUPERUSER=postgres

export PGDATA=${PGDATA:-/var/lib/postgresql/data}

log() {
    printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2
}

fail() {
    log "error: $*"
    exit 1
}

# Reads VAR_FILE into VAR when VAR_FILE is set. Setting both is an error.
load_from_file() {
    local var=$1
    local file_var="${var}_FILE"
    local path=${!file_var:-}

    if [[ -z "$path" ]]; then
        return
    fi
    if [[ -n "${!var:-}" ]]; then
        fail "both $var and $file_var are set; set only one of them"
    fi
    if [[ ! -r "$path" ]]; then
        fail "$file_var names '$path', which is not a readable file"
    fi
    printf -v "$var" '%s' "$(<"$path")"
    # shellcheck disable=SC2163 # exports the variable that $var names
    export "$var"
    unset "$file_var"
}

# Runs as root: gives PGDATA and the socket directory to the postgres user, including a
# volume that was mounted over them with another owner.
prepare_directories() {
    mkdir -p "$PGDATA" "$SOCKET_DIR"
    find "$PGDATA" ! -user "$OS_USER" -exec chown "$OS_USER:$OS_USER" {} +
    chmod 0700 "$PGDATA"
    chown "$OS_USER:$OS_USER" "$SOCKET_DIR"
    chmod 2775 "$SOCKET_DIR"
}

# Runs psql over the unix socket without a password, because the temporary pg_hba.conf of
# the initialization phase trusts local connections. psql stops at the first error.
init_psql() {
    psql --no-psqlrc --no-password --quiet --set ON_ERROR_STOP=1 \
        --username "$POSTGRES_USER" "$@"
}

run_init_scripts() {
    local script
    shopt -s nullglob
    for script in "$INITDB_SCRIPTS_DIR"/*; do
        case "$script" in
            *.sh)
                if [[ -x "$script" ]]; then
                    log "running $script"
                    "$script"
                else
                    log "sourcing $script"
                    set +u
                    # shellcheck disable=SC1090
                    . "$script"
                    set -u
                fi
                ;;
            *.sql)
                log "running $script"
                init_psql --dbname "$POSTGRES_DB" --file "$script"
                ;;
            *.sql.gz)
                log "running $script"
                gzip --decompress --stdout "$script" | init_psql --dbname "$POSTGRES_DB"
                ;;
            *.sql.xz)
                log "running $script"
                xz --decompress --stdout "$script" | init_psql --dbname "$POSTGRES_DB"
                ;;
            *)
                log "ignoring $script (only *.sh, *.sql, *.sql.gz and *.sql.xz are run)"
                ;;
        esac
    done
    shopt -u nullglob
}

write_pg_hba() {
    local local_method=$1
    local host_method=$2
    cat >"$PGDATA/pg_hba.conf" <<EOF
# Written by the image entrypoint. TYPE DATABASE USER ADDRESS METHOD
local all all $local_method
host all all all $host_method
EOF
}

# Creates the cluster with initdb, as the official image does. The superuser gets its
# password from POSTGRES_PASSWORD here.
run_initdb() {
    log "initializing a new cluster in $PGDATA for superuser '$POSTGRES_USER'"
    local initdb_args=(--pgdata="$PGDATA" --username="$POSTGRES_USER" --auth=trust)
    local extra_args=()
    read -r -a extra_args <<<"${POSTGRES_INITDB_ARGS:-}"

    # The password goes to initdb in a private temporary file, never on a command line.
    local password_file=
    if [[ -n "${POSTGRES_PASSWORD:-}" ]]; then
        password_file=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
        initdb_args+=(--pwfile="$password_file")
    fi
    local initdb_status=0
    initdb "${initdb_args[@]}" "${extra_args[@]}" || initdb_status=$?
    if [[ -n "$password_file" ]]; then
        rm -f "$password_file"
    fi
    if [[ $initdb_status -ne 0 ]]; then
        fail "initdb failed with exit status $initdb_status; see its messages above"
    fi
}

# Returns success when the cluster built into the image matches this start's settings: the
# same superuser name and no extra initdb arguments, which that cluster was not made with.
can_extract_initialized_cluster() {
    [[ -s "$INITIALIZED_CLUSTER_ARCHIVE" &&
        "$POSTGRES_USER" == "$INITIALIZED_CLUSTER_SUPERUSER" &&
        -z "${POSTGRES_INITDB_ARGS:-}" ]]
}

# Extracts the cluster built into the image into PGDATA, keeping the files' modes (PostgreSQL
# requires 0700 or 0750 on the data directory). The files belong to the postgres user, who
# runs the extraction.
#
# Unlike initdb, it does not sync the extracted files to disk: that took seconds on a busy disk,
# and a crash of the server does not need it, because PostgreSQL 15 syncs the whole data
# directory before crash recovery (recovery_init_sync_method=fsync, the default).
# NOTE: a crash of the host soon after the first start can therefore lose the cluster, which
# a throwaway test database can accept and a long-lived one cannot.
extract_initialized_cluster() {
    log "extracting the cluster initialized at image build time into $PGDATA for superuser" \
        "'$POSTGRES_USER'"
    tar --extract --preserve-permissions --file="$INITIALIZED_CLUSTER_ARCHIVE" \
        --directory="$PGDATA"
}

# Sets the superuser's password in single-user mode, because that needs no server start and
# socket wait. The statement comes on standard input, never on a command line, and statement
# logging is off for it, so that the password never reaches the log. fsync is off for the
# shutdown checkpoint, because the extracted cluster it writes to is not synced either (see
# extract_initialized_cluster).
set_superuser_password() {
    if [[ -z "${POSTGRES_PASSWORD:-}" ]]; then
        return
    fi
    local quoted_password=${POSTGRES_PASSWORD//\'/\'\'}
    local quoted_user=${POSTGRES_USER//\"/\"\"}
    local output
    if ! output=$(printf '%s\n' \
        "ALTER ROLE \"$quoted_user\" PASSWORD '$quoted_password';" |
        postgres --single -D "$PGDATA" -c fsync=off -c log_statement=none \
            -c log_min_error_statement=panic -c log_min_messages=warning postgres 2>&1); then
        fail "setting the superuser's password in single-user mode failed"
    fi
    # Single-user mode reports a failed statement and still exits with status 0.
    if [[ "$output" == *ERROR:* || "$output" == *FATAL:* ]]; then
        fail "setting the superuser's password in single-user mode failed:" \
            "$(printf '%s' "$output" | grep -E 'ERROR:|FATAL:' | head -n 3)"
    fi
}

# Returns success when the first start needs a running server: to create POSTGRES_DB or to
# run init scripts.
needs_temporary_server() {
    if [[ "$POSTGRES_DB" != postgres ]]; then
        return 0
    fi
    local entries=("$INITDB_SCRIPTS_DIR"/*)
    [[ -e "${entries[0]}" ]]
}

# Starts a temporary server on the unix socket only, creates POSTGRES_DB, runs the init
# scripts and stops the server. The arguments are the ones given to postgres.
run_temporary_server() {
    # Only the unix socket is open while the init scripts run, so local trust is safe here.
    write_pg_hba trust reject
    log "starting a temporary server on the unix socket only"
    # The arguments given to postgres apply to the temporary server too. pg_ctl passes
    # --options through /bin/sh, so each argument is quoted.
    local server_options=
    if [[ $# -gt 0 ]]; then
        printf -v server_options ' %q' "$@"
    fi
    pg_ctl --pgdata="$PGDATA" --wait --timeout="$TEMP_SERVER_TIMEOUT_SECONDS" \
        --options="-c listen_addresses=''${server_options}" start

    if [[ "$POSTGRES_DB" != postgres ]]; then
        log "creating database '$POSTGRES_DB'"
        init_psql --dbname postgres --set db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SQL
    fi

    # Scripts may run plain psql: these make it connect as the superuser to POSTGRES_DB.
    export PGUSER=$POSTGRES_USER PGDATABASE=$POSTGRES_DB PGHOST=$SOCKET_DIR
    run_init_scripts
    unset PGUSER PGDATABASE PGHOST

    log "stopping the temporary server"
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait --timeout="$TEMP_SERVER_TIMEOUT_SECONDS" stop
}

set_error_trap() {
    trap 'log "error: initialization failed; $PGDATA holds a half-initialized cluster." \
        "Remove the container and its data, fix the cause above and start again."' ERR
}

# Creates the cluster and runs the init scripts. Runs as the postgres user.
initialize_cluster() {
    local auth_method=$POSTGRES_HOST_AUTH_METHOD

    if [[ ! "$auth_method" =~ ^[a-z0-9-]+$ ]]; then
        fail "POSTGRES_HOST_AUTH_METHOD '$auth_method' is not a pg_hba.conf method;" \
            "use scram-sha-256 (default), md5, password or trust"
    fi
    if [[ -z "${POSTGRES_PASSWORD:-}" && "$auth_method" != trust ]]; then
        fail "POSTGRES_PASSWORD is not set, and the database is not initialized yet." \
            "Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to the superuser password," \
            "or set POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without a" \
            "password (only for throwaway test databases)."
    fi
    if [[ "${POSTGRES_PASSWORD:-}" == *$'\n'* ]]; then
        fail "POSTGRES_PASSWORD contains a line break, which initdb --pwfile cannot read"
    fi
    if [[ "$auth_method" == trust ]]; then
        log "warning: POSTGRES_HOST_AUTH_METHOD=trust lets anyone who reaches port 5432" \
            "connect as any role without a password"
    fi

    if can_extract_initialized_cluster; then
        # The marker goes first, because an extraction that stops halfway leaves PG_VERSION behind.
        : >"$PGDATA/$INIT_MARKER"
        set_error_trap
        extract_initialized_cluster
        set_superuser_password
    else
        run_initdb
        : >"$PGDATA/$INIT_MARKER"
        set_error_trap
    fi

    printf "\n# Added by the image entrypoint: accept TCP connections on every interface.\n\
listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

    if needs_temporary_server; then
        run_temporary_server "$@"
    fi

    write_pg_hba "$auth_method" "$auth_method"
    rm -f "$PGDATA/$INIT_MARKER"
    trap - ERR
    log "initialization complete"
}

# Returns success when the postgres arguments only print information and exit, so the
# cluster must not be initialized for them.
wants_information_only() {
    local arg
    for arg in "$@"; do
        case "$arg" in
            -V | --version | '-?' | --help | --describe-config) return 0 ;;
        esac
    done
    return 1
}

main() {
    # Options alone, as in "docker run IMAGE -c fsync=off", are options for postgres.
    if [[ $# -eq 0 || "$1" == -* ]]; then
        set -- postgres "$@"
    fi
    if [[ "$1" != postgres ]]; then
        exec "$@"
    fi

    load_from_file POSTGRES_PASSWORD
    load_from_file POSTGRES_USER
    load_from_file POSTGRES_DB
    export POSTGRES_USER=${POSTGRES_USER:-postgres}
    export POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
    export POSTGRES_HOST_AUTH_METHOD=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

    # Postgres refuses to run as root: prepare the directories, then run this script again
    # as the postgres user. exec keeps the PID.
    if [[ $(id -u) -eq 0 ]]; then
        prepare_directories
        HOME=$(getent passwd "$OS_USER" | cut -d: -f6)
        export HOME
        exec setpriv --reuid="$OS_USER" --regid="$OS_USER" --init-groups -- "$0" "$@"
    fi

    if wants_information_only "$@"; then
        exec "$@"
    fi
    if [[ -e "$PGDATA/$INIT_MARKER" ]]; then
        fail "$PGDATA holds a cluster whose first-start initialization did not finish;" \
            "remove the container and its data and start again"
    fi
    if [[ -s "$PGDATA/PG_VERSION" ]]; then
        log "$PGDATA contains a cluster; skipping initialization"
    else
        initialize_cluster "${@:2}"
    fi

    # The server does not need the password, and its child processes inherit the environment.
    unset POSTGRES_PASSWORD
    log "starting PostgreSQL"
    exec "$@"
}

main "$@"
