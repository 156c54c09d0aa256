#!/usr/bin/env bash
# Makes every cgroup controller chapter 06 teaches available to the workshop on a
# cgroup v2 host run by systemd, persistently (provision.sh runs it).
#
#   sudo scripts/delegate-cgroups.sh
#
# On cgroup v2, a cgroup can use only the controllers its parent hands down
# (cgroup.subtree_control), and systemd decides what the root hands down: the
# controllers some unit needs. Debian 12's systemd hands down cpu, memory and pids,
# not cpuset, so `--cpuset-cpus` would be refused. The way systemd expects to be
# asked is delegation (systemd.resource-control(5), Delegate=): a drop-in that
# delegates the controllers to every user's service manager (user@.service, which
# each login session starts) makes systemd enable them from the root down, at
# every boot, for as long as someone is logged in. A value written into the root's
# cgroup.subtree_control behind systemd's back would be undone at its next reload.
# Nothing to do on a v1 or hybrid host, or without systemd.
set -euo pipefail
CONTROLLERS="cpu cpuset io memory pids"
DROPIN=/etc/systemd/system/user@.service.d/workshop-delegate.conf

if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ]; then
  echo "    not needed: this host's cgroups are v1 or hybrid"
  exit 0
fi
if [ ! -d /run/systemd/system ]; then
  echo "    not done: systemd does not run here; the workshop uses what the root hands down:" \
    "$(cat /sys/fs/cgroup/cgroup.subtree_control)"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "delegate-cgroups: must be run as root: sudo $0" >&2; exit 1; }

mkdir -p "$(dirname "$DROPIN")"
cat >"$DROPIN.new" <<EOF
# Written by the container workshop (scripts/delegate-cgroups.sh): systemd hands
# these cgroup controllers down from the root to every login session's user
# manager, so that the workshop's cgroups (/sys/fs/cgroup/workshop) can use them.
[Service]
Delegate=$CONTROLLERS
EOF
if cmp -s "$DROPIN.new" "$DROPIN"; then
  rm "$DROPIN.new"
  echo "    $DROPIN: already there"
else
  mv "$DROPIN.new" "$DROPIN"
  systemctl daemon-reload
  echo "    $DROPIN: Delegate=$CONTROLLERS"
fi

handed_down=$(cat /sys/fs/cgroup/cgroup.subtree_control)
missing=""
for controller in $CONTROLLERS; do
  [[ " $handed_down " == *" $controller "* ]] || missing+=" $controller"
done
if [ -z "$missing" ]; then
  echo "    the root hands down: $handed_down"
else
  echo "    the root hands down: $handed_down (not yet:$missing; they come with the next login session: log out and in again)"
fi
