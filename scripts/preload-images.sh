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
#   workshop/alpine-like:latest
#                             a small distribution laid out as Alpine is: the busybox
#                             layer, a layer with musl's C library (/lib/ld-musl-ARCH.so.1),
#                             /etc/os-release and a user, and a layer with a program
#                             dynamically linked against musl (three layers, the first shared)
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

if ! umoci ls --layout "$OCI/busybox" | grep -qx alpine-like; then
  arch=$(uname -m) # the loader's name, as Alpine's: ld-musl-x86_64.so.1, ld-musl-aarch64.so.1
  musl_libc=$(readlink -e "/lib/ld-musl-$arch.so.1") ||
    { echo "preload-images: musl is not installed (apt-get install musl musl-tools)" >&2; exit 1; }
  umoci unpack --image "$OCI/busybox:latest" "$work/alpine" >/dev/null
  rootfs=$work/alpine/rootfs
  # Layer 2: the C library, and what a distribution says about itself.
  mkdir -p "$rootfs/lib"
  install -m 0755 "$musl_libc" "$rootfs/lib/ld-musl-$arch.so.1"
  ln -s "ld-musl-$arch.so.1" "$rootfs/lib/libc.musl-$arch.so.1"
  printf '%s\n' 'NAME="Workshop Alpine-like"' 'ID=workshop-alpine-like' 'ID_LIKE=alpine' \
    'PRETTY_NAME="Workshop Alpine-like (busybox + musl), built offline by preload-images.sh"' \
    >"$rootfs/etc/os-release"
  echo "guest:x:1000:1000:guest:/home/guest:/bin/sh" >>"$rootfs/etc/passwd"
  echo "guest:x:1000:" >>"$rootfs/etc/group"
  mkdir -p "$rootfs/home/guest" && chown 1000:1000 "$rootfs/home/guest"
  umoci repack --image "$OCI/busybox:alpine-like" "$work/alpine"
  # Layer 3: a program that needs the loader and C library of layer 2. (A fresh
  # unpack: repack makes one layer of everything changed since the unpack.)
  umoci unpack --image "$OCI/busybox:alpine-like" "$work/alpine3" >/dev/null
  rootfs=$work/alpine3/rootfs
  mkdir -p "$rootfs/usr/bin"
  printf '%s\n' '#include <stdio.h>' \
    'int main(void) { puts("hello from a program dynamically linked against musl"); return 0; }' \
    >"$work/hello-musl.c"
  musl-gcc -O2 -o "$rootfs/usr/bin/hello-musl" "$work/hello-musl.c"
  umoci repack --image "$OCI/busybox:alpine-like" "$work/alpine3"
  umoci config --image "$OCI/busybox:alpine-like" --config.cmd /bin/sh --config.workingdir / \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  echo "    built $OCI/busybox:alpine-like"
fi

if curl -fsS -m 3 "http://$REGISTRY/v2/" >/dev/null 2>&1; then
  for pair in latest:workshop/busybox:latest hello:workshop/hello:latest alpine-like:workshop/alpine-like:latest; do
    tag=${pair%%:*}
    destination=${pair#*:}
    skopeo --insecure-policy copy --quiet --dest-tls-verify=false \
      "oci:$OCI/busybox:$tag" "docker://$REGISTRY/$destination"
    echo "    pushed $REGISTRY/$destination"
  done
else
  echo "    no registry answers on $REGISTRY: images built, not pushed"
  echo "    (\`sudo scripts/class-registry.sh\` starts one, then rerun this script)"
fi
