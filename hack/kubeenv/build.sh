#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl for integration tests into a cache folder keyed on this
# module's inputs, and prints that folder (use it as KUBEBUILDER_ASSETS). A present cache is reused;
# a missing or partial one is rebuilt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
key=$(cat "$here/go.mod" "$here/go.sum" "$here/tools.go" "$here/build.sh" | sha256sum | cut -c1-16)
assets="${TRELLIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis}/kubeenv-$key"
if [ -x "$assets/kube-apiserver" ] && [ -x "$assets/etcd" ] && [ -x "$assets/kubectl" ] && [ -f "$assets/.complete" ]; then
  echo "$assets"; exit 0
fi
echo "building kube-apiserver, etcd and kubectl into $assets (cold build takes ~8 minutes)" >&2
tmp="$assets.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
cd "$here"
export GOFLAGS=-modcacherw
v=v1.36.3
go build -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36" \
  -o "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl go.etcd.io/etcd/server/v3 >&2
mv "$tmp/server" "$tmp/etcd"
touch "$tmp/.complete"
rm -rf "$assets"; mv "$tmp" "$assets"
echo "$assets"
