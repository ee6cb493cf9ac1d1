#!/usr/bin/env bash
# Builds the project's container images from Debian bookworm packages with mmdebstrap and
# imports them into the local Docker engine, so that no registry is needed.
#
# Usage: images/build.sh [postgres|runtime|all] [--force]
#
# An image that already exists is skipped unless --force is given. Image names come from
# HARNESS_POSTGRES_IMAGE and HARNESS_RUNTIME_IMAGE. A name outside the localizevideos/
# namespace is not built here and must come from a registry (docker pull). Under
# localizevideos/, only the two default names are built; another missing name is an error.
#
# Exit status: 0 on success, 1 when a build fails, 2 on a usage error, a missing prerequisite
# or a missing image that this script does not build.
set -euo pipefail

readonly DEFAULT_POSTGRES_IMAGE=localizevideos/postgres:15-bookworm-r3
readonly DEFAULT_RUNTIME_IMAGE=localizevideos/runtime:bookworm
readonly OWN_NAMESPACE=localizevideos/
readonly SUITE=bookworm

# The Debian mirror is read from this deb822 file. Other files under /etc/apt may list
# third-party repositories that are not reachable from every machine, so they are not used.
readonly DEBIAN_SOURCES=/etc/apt/sources.list.d/debian.sources

# Deadlines, far above a normal build (about a minute per image on the machine that
# README.md names), so that only a hung download, engine or concurrent build trips them.
readonly LOCK_TIMEOUT_SECONDS=1800
readonly MMDEBSTRAP_TIMEOUT_SECONDS=1800
readonly IMPORT_TIMEOUT_SECONDS=600
readonly DOCKER_PROBE_TIMEOUT_SECONDS=30

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly IMAGES_DIR

# Build state that the exit trap cleans up.
WORK_DIR=
UNTAGGED_IMAGE_IDS=()
DEADLINE_PID=

usage() {
    cat <<EOF
Usage: $0 [postgres|runtime|all] [--force]

Builds the localizevideos container images from Debian $SUITE packages with mmdebstrap
and imports them into the local Docker engine. An image that exists is skipped unless
--force is given.

Environment:
  HARNESS_POSTGRES_IMAGE  Postgres image name (default $DEFAULT_POSTGRES_IMAGE)
  HARNESS_RUNTIME_IMAGE   runtime image name (default $DEFAULT_RUNTIME_IMAGE)
  TMPDIR                  where the root filesystem tarball is written (default /var/tmp)
EOF
}

# Prints a progress line with the seconds elapsed since the script started.
stage() {
    printf '[build.sh %4ds] %s\n' "$SECONDS" "$*"
}

# Prints an error and exits with the given status.
die() {
    local status=$1
    shift
    printf 'build.sh: error: %s\n' "$*" >&2
    exit "$status"
}

cleanup() {
    # Newest first, because an image built from another one must go before it.
    local index
    for ((index = ${#UNTAGGED_IMAGE_IDS[@]} - 1; index >= 0; index--)); do
        docker image rm "${UNTAGGED_IMAGE_IDS[index]}" >/dev/null 2>&1 || true
    done
    if [[ -n "$WORK_DIR" ]]; then
        rm -rf "$WORK_DIR"
    fi
}

# Stops the running mmdebstrap (timeout forwards the signal), waits for it to clean up and
# exits; the EXIT trap then removes the work directory.
handle_signal() {
    local status=$1
    if [[ -n "$DEADLINE_PID" ]]; then
        kill -TERM "$DEADLINE_PID" 2>/dev/null || true
        wait "$DEADLINE_PID" 2>/dev/null || true
    fi
    exit "$status"
}

# Runs a command under timeout in the background and waits for it, because bash delays a
# trapped signal until a foreground command ends, and mmdebstrap can run for minutes.
run_with_deadline() {
    local seconds=$1
    shift
    timeout "$seconds" "$@" &
    DEADLINE_PID=$!
    local status=0
    wait "$DEADLINE_PID" || status=$?
    DEADLINE_PID=
    return "$status"
}

image_exists() {
    docker image inspect "$1" >/dev/null 2>&1
}

is_own_image() {
    [[ "$1" == "$OWN_NAMESPACE"* ]]
}

image_name_for() {
    case "$1" in
        postgres) printf '%s\n' "${HARNESS_POSTGRES_IMAGE:-$DEFAULT_POSTGRES_IMAGE}" ;;
        runtime) printf '%s\n' "${HARNESS_RUNTIME_IMAGE:-$DEFAULT_RUNTIME_IMAGE}" ;;
    esac
}

# Prints the only name under localizevideos/ that this script builds the given kind as.
known_image_name_for() {
    case "$1" in
        postgres) printf '%s\n' "$DEFAULT_POSTGRES_IMAGE" ;;
        runtime) printf '%s\n' "$DEFAULT_RUNTIME_IMAGE" ;;
    esac
}

check_docker() {
    if ! command -v docker >/dev/null; then
        die 2 "docker CLI not found; install Docker Engine (apt-get install -y docker.io)"
    fi

    local output
    if ! output=$(timeout "$DOCKER_PROBE_TIMEOUT_SECONDS" docker version \
        --format '{{.Server.Version}}' 2>&1); then
        output=$(printf '%s' "$output" | tr -s '\n' ' ' | sed 's/^ *//; s/ *$//')
        die 2 "Docker engine not reachable (docker version: ${output:-timed out after \
${DOCKER_PROBE_TIMEOUT_SECONDS}s}); start it (systemctl start docker) or set DOCKER_HOST"
    fi
    stage "Docker engine $output reachable"
}

# Prints one-line apt sources ("deb URI SUITE main") for the bookworm, bookworm-updates and
# bookworm-security entries of the host's deb822 Debian sources file.
debian_source_lines() {
    awk -v suite="$SUITE" '
        function emit(    uri_count, suite_count, uri_list, suite_list, i, j) {
            if (enabled != "no" && types ~ /(^| )deb( |$)/) {
                uri_count = split(uris, uri_list, " ")
                suite_count = split(suites, suite_list, " ")
                for (i = 1; i <= uri_count; i++)
                    for (j = 1; j <= suite_count; j++)
                        if (suite_list[j] ~ ("^" suite "(-updates|-security)?$"))
                            print "deb " uri_list[i] " " suite_list[j] " main"
            }
            types = uris = suites = enabled = field = ""
        }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { emit(); next }
        /^[ \t]/ {
            # A continuation line adds values to the previous field.
            if (field == "uris") uris = uris " " $0
            else if (field == "suites") suites = suites " " $0
            next
        }
        {
            name = tolower($1)
            sub(/:$/, "", name)
            value = $0
            sub(/^[^:]*:[ \t]*/, "", value)
            field = name
            if (name == "types") types = value
            else if (name == "uris") uris = value
            else if (name == "suites") suites = value
            else if (name == "enabled") enabled = tolower(value)
        }
        END { emit() }
    ' "$DEBIAN_SOURCES"
}

check_build_prerequisites() {
    if [[ $EUID -ne 0 ]]; then
        die 2 "must run as root, because mmdebstrap --mode=root creates the root filesystem" \
            "with real ownership; run: sudo bash $0 $*"
    fi
    if ! command -v mmdebstrap >/dev/null; then
        die 2 "mmdebstrap not found; install it: apt-get install -y mmdebstrap"
    fi
    if [[ ! -r "$DEBIAN_SOURCES" ]]; then
        die 2 "Debian sources file $DEBIAN_SOURCES not found; it names the Debian mirror" \
            "to build from (deb822 format with Types, URIs and Suites fields)"
    fi

    mapfile -t APT_SOURCES < <(debian_source_lines)
    if [[ ${#APT_SOURCES[@]} -eq 0 ]]; then
        die 2 "no enabled '$SUITE' entry found in $DEBIAN_SOURCES; add one, such as:" \
            "Types: deb / URIs: http://deb.debian.org/debian / Suites: $SUITE / Components: main"
    fi
    local line
    for line in "${APT_SOURCES[@]}"; do
        stage "apt source: $line"
    done
}

# mmdebstrap options shared by every image. The dpkg path filters keep documentation (except
# copyright files), man and info pages and message translations out of the image. They stay
# in /etc/dpkg/dpkg.cfg.d/99mmdebstrap, so packages installed later are filtered too.
common_mmdebstrap_args() {
    # shellcheck disable=SC2016 # mmdebstrap sets $1 to the root filesystem in hooks.
    COMMON_ARGS=(
        --mode=root
        --variant=minbase
        --format=tar
        --aptopt='APT::Install-Recommends "false"'
        --aptopt='Acquire::Languages "none"'
        # Merge /usr with symlinks and install usr-is-merged. Without this hook, bookworm's
        # init-system-helpers pulls in usrmerge and with it about 45 MB of Perl.
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
        # dpkg skips fsync while unpacking, because a failed build is thrown away anyway.
        # Debian's own container images set the same option.
        --dpkgopt='force-unsafe-io'
        --dpkgopt='path-exclude=/usr/share/doc/*'
        --dpkgopt='path-include=/usr/share/doc/*/copyright'
        --dpkgopt='path-exclude=/usr/share/man/*'
        --dpkgopt='path-exclude=/usr/share/info/*'
        --dpkgopt='path-exclude=/usr/share/locale/*'
        --dpkgopt='path-include=/usr/share/locale/locale.alias'
        --dpkgopt='path-exclude=/usr/share/lintian/*'
        # mmdebstrap copies the host's resolv.conf and hostname, but Docker mounts its own.
        --customize-hook='truncate -s 0 "$1/etc/resolv.conf" "$1/etc/hostname"'
    )
}

# Sets IMAGE_ARGS (extra mmdebstrap options), IMAGE_CHANGES (docker import --change
# instructions) and IMAGE_DOCKERFILE_LINES (instructions that docker import rejects) for the
# image kind given.
image_spec() {
    local kind=$1
    local base_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

    case "$kind" in
        postgres)
            # shellcheck disable=SC2016 # mmdebstrap sets $1 to the root filesystem in hooks.
            IMAGE_ARGS=(
                --include=postgresql-15,xz-utils
                # postgresql-common creates the cluster "15/main" when postgresql-15 is
                # installed, unless create_main_cluster is false. The entrypoint runs initdb.
                --essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" &&
                    echo "create_main_cluster = false" \
                    > "$1/etc/postgresql-common/createcluster.d/no-main-cluster.conf"'
                --customize-hook="bash '$IMAGES_DIR/postgres/customize.sh' \"\$1\""
                # mmdebstrap would empty /run, which contains the server's socket
                # directory. customize.sh empties the rest of /run instead.
                --skip=cleanup/run
            )
            IMAGE_CHANGES=(
                "ENV PATH=/usr/lib/postgresql/15/bin:$base_path"
                'ENV LANG=C.UTF-8'
                'ENV PGDATA=/var/lib/postgresql/data'
                'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]'
                'CMD ["postgres"]'
                'EXPOSE 5432'
                'LABEL org.localizevideos.image=postgres'
            )
            # SIGINT is Postgres's fast shutdown: it ends sessions and checkpoints. SIGTERM,
            # docker stop's default, waits for every client to disconnect.
            IMAGE_DOCKERFILE_LINES=('STOPSIGNAL SIGINT')
            ;;
        runtime)
            IMAGE_ARGS=(
                --include=ca-certificates
                --customize-hook="bash '$IMAGES_DIR/runtime/customize.sh' \"\$1\""
            )
            IMAGE_CHANGES=(
                "ENV PATH=$base_path"
                'ENV LANG=C.UTF-8'
                'WORKDIR /app'
                'USER 10001:10001'
                'CMD ["/bin/bash"]'
                'LABEL org.localizevideos.image=runtime'
            )
            IMAGE_DOCKERFILE_LINES=()
            ;;
    esac
}

# Builds the root filesystem of one image, imports it without a name and tags it only at the
# end, so that an interrupted build never leaves a partial image under the real name.
build_image() {
    local kind=$1
    local name=$2
    local started=$SECONDS

    image_spec "$kind"
    WORK_DIR=$(mktemp -d "${TMPDIR:-/var/tmp}/localizevideos-$kind-image.XXXXXX")
    local tarball="$WORK_DIR/rootfs.tar"

    stage "$name: mmdebstrap $SUITE (variant minbase) into $tarball"
    if ! run_with_deadline "$MMDEBSTRAP_TIMEOUT_SECONDS" mmdebstrap "${COMMON_ARGS[@]}" \
        "${IMAGE_ARGS[@]}" "$SUITE" "$tarball" "${APT_SOURCES[@]}"; then
        die 1 "mmdebstrap failed or timed out after ${MMDEBSTRAP_TIMEOUT_SECONDS}s for $name;" \
            "see its messages above"
    fi
    stage "$name: root filesystem ready ($(du -h "$tarball" | cut -f1) tarball)"

    local change_args=()
    local change
    for change in "${IMAGE_CHANGES[@]}"; do
        change_args+=(--change "$change")
    done

    stage "$name: docker import"
    local old_id=
    old_id=$(docker image inspect --format '{{.Id}}' "$name" 2>/dev/null) || true
    local image_id
    if ! image_id=$(timeout "$IMPORT_TIMEOUT_SECONDS" docker import \
        "${change_args[@]}" --message "built by images/build.sh from Debian $SUITE" \
        "$tarball"); then
        die 1 "docker import failed or timed out after ${IMPORT_TIMEOUT_SECONDS}s for $name"
    fi
    UNTAGGED_IMAGE_IDS+=("$image_id")

    # docker import --change rejects STOPSIGNAL (Docker 20.10: "stopsignal is not a valid
    # change command"), so such lines go through a build that adds no layer. The classic
    # builder finds the imported image locally and contacts no registry.
    if [[ ${#IMAGE_DOCKERFILE_LINES[@]} -gt 0 ]]; then
        stage "$name: docker build (${IMAGE_DOCKERFILE_LINES[*]})"
        if ! image_id=$(printf '%s\n' "FROM $image_id" "${IMAGE_DOCKERFILE_LINES[@]}" |
            DOCKER_BUILDKIT=0 timeout "$IMPORT_TIMEOUT_SECONDS" docker build --quiet -); then
            die 1 "docker build of the image configuration failed for $name"
        fi
        UNTAGGED_IMAGE_IDS+=("$image_id")
    fi

    docker tag "$image_id" "$name"
    UNTAGGED_IMAGE_IDS=()
    rm -rf "$WORK_DIR"
    WORK_DIR=

    local size
    size=$(docker image inspect --format '{{.Size}}' "$name" | numfmt --to=si --suffix=B)
    stage "$name: built ${image_id:7:12}, $size, in $((SECONDS - started))s"

    if [[ -n "$old_id" && "$old_id" != "$image_id" ]]; then
        if docker image rm "$old_id" >/dev/null 2>&1; then
            stage "$name: removed the previous image ${old_id:7:12}"
        else
            stage "$name: kept the previous image ${old_id:7:12} (a container or tag uses it)"
        fi
    fi
}

# Takes the per-image lock, then builds unless the image exists (a concurrent build.sh may
# have built it in the meantime) or --force was given.
build_with_lock() {
    local kind=$1
    local name=$2
    local force=$3
    local lock_dir=${XDG_RUNTIME_DIR:-/tmp}
    local lock_file="$lock_dir/localizevideos-image-${name//[^A-Za-z0-9._-]/_}.lock"
    local lock_fd

    exec {lock_fd}>"$lock_file"
    if ! flock --nonblock "$lock_fd"; then
        stage "$name: waiting for another build.sh (lock $lock_file)"
        if ! flock --wait "$LOCK_TIMEOUT_SECONDS" "$lock_fd"; then
            die 1 "timed out after ${LOCK_TIMEOUT_SECONDS}s waiting for lock $lock_file;" \
                "check for a stuck build.sh (fuser $lock_file)"
        fi
    fi

    if [[ "$force" == no ]] && image_exists "$name"; then
        stage "image $name present (built by a concurrent build.sh), skipping"
    else
        build_image "$kind" "$name"
    fi
    exec {lock_fd}>&-
}

main() {
    local target=all
    local force=no
    local arg
    for arg in "$@"; do
        case "$arg" in
            postgres | runtime | all) target=$arg ;;
            --force) force=yes ;;
            -h | --help)
                usage
                exit 0
                ;;
            *)
                usage >&2
                die 2 "unknown argument '$arg'"
                ;;
        esac
    done

    local kinds=(postgres runtime)
    if [[ "$target" != all ]]; then
        kinds=("$target")
    fi

    # The EXIT trap removes the work directory and any unnamed image, also after a signal.
    trap cleanup EXIT
    trap 'handle_signal 130' INT
    trap 'handle_signal 143' TERM
    check_docker

    # Decide what to build before checking the build prerequisites, so that a machine with
    # every image present needs neither root nor mmdebstrap.
    local to_build=()
    local kind name
    for kind in "${kinds[@]}"; do
        name=$(image_name_for "$kind")
        if ! is_own_image "$name"; then
            if image_exists "$name"; then
                stage "image $name present (not built by this script), skipping"
            else
                die 2 "image $name (from HARNESS_${kind^^}_IMAGE) is missing and is not built" \
                    "by this script; it must come from a registry: docker pull $name"
            fi
        elif [[ "$name" != "$(known_image_name_for "$kind")" ]]; then
            # The build recipes make exactly the two known images. Building one of them under
            # another name would give it a content its name does not describe.
            if image_exists "$name"; then
                stage "image $name present (not a name this script builds), skipping"
            else
                die 2 "image $name (from HARNESS_${kind^^}_IMAGE) is missing, and this script" \
                    "builds only $DEFAULT_POSTGRES_IMAGE and $DEFAULT_RUNTIME_IMAGE; unset" \
                    "HARNESS_${kind^^}_IMAGE, or build or tag $name yourself"
            fi
        elif [[ "$force" == no ]] && image_exists "$name"; then
            stage "image $name present, skipping"
        else
            to_build+=("$kind")
        fi
    done

    if [[ ${#to_build[@]} -eq 0 ]]; then
        return
    fi

    check_build_prerequisites "$@"
    common_mmdebstrap_args
    for kind in "${to_build[@]}"; do
        build_with_lock "$kind" "$(image_name_for "$kind")" "$force"
    done
    stage "done"
}

main "$@"
