#!/usr/bin/env bash
# Download the official release binaries the real test tier runs: kube-apiserver, kube-controller-manager,
# kube-scheduler (Kubernetes VERSION) and etcd (ETCD_VERSION), into DEST; print DEST.
# Each download is checked against the SHA-256 its project publishes beside it, and against the pins in
# .github/real-tier-checksums.txt when that file has a line for it (a mismatch fails; a missing pin is
# printed so that it can be added).
# Usage: real-tier-binaries.sh VERSION DEST   (e.g. 1.37.1 /tmp/k8s-bin)
set -euo pipefail
version=${1:?Kubernetes version, e.g. 1.37.1}
dest=${2:?destination directory}
etcd_version=${ETCD_VERSION:-3.6.15}
pins=$(cd "$(dirname "$0")" && pwd)/real-tier-checksums.txt
mkdir -p "$dest"
cd "$dest"

check_pin() { # file sum
  local pinned
  pinned=$(awk -v f="$1" '$2 == f {print $1}' "$pins" 2>/dev/null || true)
  if [ -z "$pinned" ]; then
    echo "no pin for $1 in $pins; its published SHA-256 is: $2  $1" >&2
  elif [ "$pinned" != "$2" ]; then
    echo "checksum of $1 differs from its pin ($2, pinned $pinned)" >&2
    exit 1
  fi
}

for binary in kube-apiserver kube-controller-manager kube-scheduler; do
  url=https://dl.k8s.io/release/v$version/bin/linux/amd64/$binary
  curl -fsSLo "$binary" "$url"
  sum=$(curl -fsSL "$url.sha256")
  echo "$sum  $binary" | sha256sum --check --quiet
  check_pin "kubernetes-v$version/$binary" "$sum"
  chmod 755 "$binary"
done

tarball=etcd-v$etcd_version-linux-amd64.tar.gz
base=https://github.com/etcd-io/etcd/releases/download/v$etcd_version
curl -fsSLo "$tarball" "$base/$tarball"
curl -fsSL "$base/SHA256SUMS" | grep " $tarball\$" | sha256sum --check --quiet
check_pin "$tarball" "$(sha256sum "$tarball" | cut -d' ' -f1)"
tar -xzf "$tarball" --strip-components=1 "etcd-v$etcd_version-linux-amd64/etcd"
rm -f "$tarball"
pwd
