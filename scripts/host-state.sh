#!/usr/bin/env bash
# Prints what runs and tests could leave behind on this machine, one item a line:
# mounts, network links and namespaces, the workshop's cgroups and temp directories.
# .ci/run compares its output before and after the tests: any difference is a leak.
set -u
findmnt -rn -o TARGET,FSTYPE | sed 's/^/mount /' | sort
ip -o link show 2>/dev/null | awk -F': ' '{print "link " $2}' | sort
ip netns list 2>/dev/null | sed 's/^/netns /' | sort
find /sys/fs/cgroup -maxdepth 3 -type d -name 'workshop*' 2>/dev/null | sed 's/^/cgroup /' | sort
find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'workshop-*' 2>/dev/null | sed 's/^/tmp /' | sort
