#!/usr/bin/env bash
# Builds a Consul agent (github.com/hashicorp/consul v1.16.1, MPL-2.0) into a cache folder keyed on
# this module's inputs and prints the binary's path. A missing cache is rebuilt (~6 minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
key=$(cat "$here/go.mod" "$here/go.sum" "$here/tools.go" "$here/build.sh" | sha256sum | cut -c1-16)
dir="${TRELLIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis}/consul-$key"
if [ -x "$dir/consul" ] && [ -f "$dir/.complete" ]; then echo "$dir/consul"; exit 0; fi
echo "building consul into $dir (cold build takes ~6 minutes)" >&2
tmp="$dir.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
cd "$here"
export GOFLAGS=-modcacherw
go build -trimpath -ldflags "-s -w" -o "$tmp/consul" github.com/hashicorp/consul >&2
touch "$tmp/.complete"
rm -rf "$dir"; mv "$tmp" "$dir"
echo "$dir/consul"
