#!/usr/bin/env bash
# mmdebstrap customize hook for the Postgres image. $1 is the root filesystem being built.
set -euo pipefail

rootfs=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

install -m 0755 "$here/docker-entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
install -d -m 0755 "$rootfs/docker-entrypoint-initdb.d"

# PGDATA and the socket directory belong to the postgres user, which postgresql-common
# created as a system user. The entrypoint repeats this for volumes mounted over them.
chroot "$rootfs" install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
chroot "$rootfs" install -d -o postgres -g postgres -m 2775 /var/run/postgresql

# A cluster initialized now, which the entrypoint extracts into PGDATA on a first start instead
# of running initdb. It is made as the entrypoint's initdb would make it: superuser postgres,
# trust authentication until the entrypoint writes pg_hba.conf, and the image's LANG. The
# image is written to disk when it is imported, so initdb skips syncing here.
#
# The cluster ships as one tar archive, because the entrypoint reads it through the container's
# storage driver: one sequential read of one file costs much less there than opening and
# copying about 1000 files, on fuse-overlayfs most of all. The first WAL segment (16 MB) contains
# about 5 MB of records followed by zeros. Dug into holes, its zeros take no room in the
# archive (tar --sparse), and tar extracts it as a sparse file.
# NOTE: PostgreSQL allocates the holes as it writes WAL, so on a full disk a WAL write into
# this segment can fail where initdb's zero-filled segment would not.
chroot "$rootfs" install -d -o postgres -g postgres -m 0755 /usr/share/localizevideos
cluster_build_dir=/tmp/initialized-cluster
chroot "$rootfs" env -i LANG=C.UTF-8 PATH=/usr/bin:/bin \
    setpriv --reuid=postgres --regid=postgres --init-groups -- \
    /usr/lib/postgresql/15/bin/initdb --pgdata="$cluster_build_dir" \
    --username=postgres --auth=trust --no-sync >/dev/null
for segment in "$rootfs$cluster_build_dir"/pg_wal/0*; do
    fallocate --dig-holes "$segment"
done
chroot "$rootfs" tar --create --sparse --file=/usr/share/localizevideos/initialized-cluster.tar \
    --directory="$cluster_build_dir" .
rm -rf "${rootfs:?}$cluster_build_dir"

# build.sh skips mmdebstrap's cleanup of /run to keep the socket directory, so the rest of
# /run, left over from package installation, is removed here.
find "$rootfs/run" -mindepth 1 -maxdepth 1 ! -name postgresql -exec rm -rf {} +

# ssl-cert generates a snakeoil key pair at install time. The image must not ship a private
# key, and initdb leaves ssl off, so the pair is removed.
rm -f "$rootfs/etc/ssl/private/ssl-cert-snakeoil.key" \
    "$rootfs/etc/ssl/certs/ssl-cert-snakeoil.pem"
chroot "$rootfs" find /etc/ssl/certs -xtype l -delete

# The createcluster.d setting prevents the Debian cluster "15/main". If a package update
# ever brings it back, the build fails, because the image would carry an unused cluster.
if [[ -e "$rootfs/var/lib/postgresql/15/main" ]]; then
    echo "customize.sh: error: postgresql-common created the cluster 15/main;" \
        "check /etc/postgresql-common/createcluster.d in the image" >&2
    exit 1
fi
