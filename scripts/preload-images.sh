#!/usr/bin/env bash
# Preloads the images chapters 09-10 pull in class, so they work with no internet:
# builds them from the workshop's busybox rootfs as OCI image layouts (umoci) under
# /var/lib/workshop/oci, and pushes them (skopeo) to the registry on localhost:5000
# when one answers there (Debian and Ubuntu's docker-registry package runs one as a
# service). Run by scripts/provision.sh; idempotent.
#
#   workshop/busybox:latest   busybox, sh as its command
#   workshop/hello:latest     busybox plus a layer of its own, sharing the busybox
#                             layer (chapter 10: pulled after busybox, it fetches one layer)
set -euo pipefail
ROOTFS=${1:-/var/lib/workshop/busybox}
OCI=/var/lib/workshop/oci
REGISTRY=${WORKSHOP_REGISTRY:-localhost:5000}

[ "$(id -u)" -eq 0 ] || { echo "preload-images: run as root" >&2; exit 1; }
[ -x "$ROOTFS/bin/busybox" ] || { echo "preload-images: no rootfs at $ROOTFS (scripts/make-rootfs.sh makes it)" >&2; exit 1; }

work=$(mktemp -d /tmp/workshop-preload.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ ! -f "$OCI/busybox/index.json" ]; then
  rm -rf "$OCI/busybox"
  mkdir -p "$OCI"
  umoci init --layout "$OCI/busybox"
  umoci new --image "$OCI/busybox:latest"
  umoci unpack --image "$OCI/busybox:latest" "$work/bundle" >/dev/null
  cp -a "$ROOTFS/." "$work/bundle/rootfs/"
  umoci repack --image "$OCI/busybox:latest" "$work/bundle"
  umoci config --image "$OCI/busybox:latest" --config.cmd /bin/sh \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  # hello: the busybox image plus one layer.
  umoci unpack --image "$OCI/busybox:latest" "$work/hello" >/dev/null
  echo "hello from a layer of its own" >"$work/hello/rootfs/etc/hello"
  umoci repack --image "$OCI/busybox:hello" "$work/hello"
  umoci config --image "$OCI/busybox:hello" --config.cmd /bin/cat --config.cmd /etc/hello
  echo "    built $OCI/busybox (tags latest, hello)"
fi

if curl -fsS -m 3 "http://$REGISTRY/v2/" >/dev/null 2>&1; then
  for pair in latest:workshop/busybox:latest hello:workshop/hello:latest; do
    tag=${pair%%:*}
    destination=${pair#*:}
    skopeo --insecure-policy copy --quiet --dest-tls-verify=false \
      "oci:$OCI/busybox:$tag" "docker://$REGISTRY/$destination"
    echo "    pushed $REGISTRY/$destination"
  done
else
  echo "    no registry answers on $REGISTRY: images built, not pushed"
  echo "    (start one: docker-registry serve /etc/docker/registry/config.yml, then rerun this script)"
fi
