#!/usr/bin/env bash
# The class registry on localhost:5000, which chapters 09 and 10 pull the preloaded
# images from (provision.sh runs it, then preload-images.sh pushes to it).
#
#   sudo scripts/class-registry.sh
#
# Debian and Ubuntu's docker-registry package starts a registry as a service, but
# its configuration asks for a password file (htpasswd auth) that does not exist:
# every request is refused with 401. The workshop's own configuration
# (/etc/workshop/registry.yml) serves without auth, on loopback only, from the
# package's storage; a systemd drop-in makes the service use it.
set -euo pipefail
CONFIG=/etc/workshop/registry.yml
DROPIN=/etc/systemd/system/docker-registry.service.d/workshop.conf
REGISTRY=localhost:5000

[ "$(id -u)" -eq 0 ] || { echo "class-registry: must be run as root: sudo $0" >&2; exit 1; }
command -v docker-registry >/dev/null || { echo "class-registry: docker-registry is not installed" >&2; exit 1; }

mkdir -p "$(dirname "$CONFIG")"
cat >"$CONFIG.new" <<'EOF'
# The container workshop's class registry (scripts/class-registry.sh): no auth,
# loopback only, deletes allowed (chapter 10's rmi exercises them against it).
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
EOF
changed=0
cmp -s "$CONFIG.new" "$CONFIG" || changed=1
mv "$CONFIG.new" "$CONFIG"

answers() { curl -fsS -m 3 -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null; }

if [ -d /run/systemd/system ] && systemctl cat docker-registry.service >/dev/null 2>&1; then
  mkdir -p "$(dirname "$DROPIN")"
  printf '%s\n' '# The container workshop: serve the class registry (scripts/class-registry.sh).' \
    '[Service]' 'ExecStart=' "ExecStart=/usr/bin/docker-registry serve $CONFIG" >"$DROPIN.new"
  cmp -s "$DROPIN.new" "$DROPIN" || changed=1
  mv "$DROPIN.new" "$DROPIN"
  if [ "$changed" = 1 ] || ! answers; then
    systemctl daemon-reload
    systemctl enable --quiet docker-registry.service
    systemctl restart docker-registry.service
  fi
  for _ in $(seq 1 30); do answers && break; sleep 1; done
  if answers; then
    echo "    docker-registry.service serves $REGISTRY ($CONFIG)"
  else
    echo "    docker-registry.service does not answer on $REGISTRY: \`journalctl -u docker-registry\` says why" >&2
    exit 1
  fi
elif answers; then
  echo "    a registry already answers on $REGISTRY"
else
  echo "    no service manager runs the registry here: start it with"
  echo "    docker-registry serve $CONFIG &"
fi
