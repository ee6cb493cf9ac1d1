#!/usr/bin/env bash
# mmdebstrap customize hook for the runtime image. $1 is the root filesystem being built.
set -euo pipefail

rootfs=$1

# The app runs as this non-root user. A fixed uid and gid let orchestrators verify
# "runAsNonRoot" and let volume permissions be set ahead of time.
chroot "$rootfs" groupadd --gid 10001 app
chroot "$rootfs" useradd --uid 10001 --gid 10001 --home-dir /app --no-create-home \
    --shell /usr/sbin/nologin app
chroot "$rootfs" install -d -o app -g app -m 0755 /app
