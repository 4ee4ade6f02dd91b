#!/usr/bin/env bash
# Download the official release binaries the real test tier runs into DEST and print DEST:
# kube-apiserver, kube-controller-manager and kube-scheduler from the Kubernetes VERSION server tarball,
# and etcd ETCD_VERSION from its release tarball.
# The server tarball is checked against SERVER_SHA512 (the pin: the sha512 the release's CHANGELOG
# publishes), or, for a version not pinned yet, against the .sha512 published beside it (printed, so
# the pin can be added). etcd is checked against the release's SHA256SUMS.
# Usage: SERVER_SHA512=<sha512> real-tier-binaries.sh VERSION DEST   (e.g. 1.36.0 /tmp/k8s-bin)
set -euo pipefail
version=${1:?Kubernetes version, e.g. 1.36.0}
dest=${2:?destination directory}
etcd_version=${ETCD_VERSION:-3.6.15}
mkdir -p "$dest"
cd "$dest"

server=kubernetes-server-linux-amd64.tar.gz
curl -fsSLo "$server" "https://dl.k8s.io/v$version/$server"
if [ -n "${SERVER_SHA512:-}" ]; then
  echo "$SERVER_SHA512  $server" | sha512sum --check --quiet
else
  published=$(curl -fsSL "https://dl.k8s.io/v$version/$server.sha512")
  echo "$published  $server" | sha512sum --check --quiet
  echo "no pin for Kubernetes $version; the published sha512 of $server is $published" >&2
fi
tar -xzf "$server" --strip-components=3 \
  kubernetes/server/bin/kube-apiserver kubernetes/server/bin/kube-controller-manager kubernetes/server/bin/kube-scheduler
rm -f "$server"

tarball=etcd-v$etcd_version-linux-amd64.tar.gz
base=https://github.com/etcd-io/etcd/releases/download/v$etcd_version
curl -fsSLo "$tarball" "$base/$tarball"
curl -fsSL "$base/SHA256SUMS" | grep " $tarball\$" | sha256sum --check --quiet
tar -xzf "$tarball" --strip-components=1 "etcd-v$etcd_version-linux-amd64/etcd"
rm -f "$tarball"
pwd
