#!/usr/bin/env bash
# Runs an official conformance suite against one of the apps beside this script.
#   bash test/conformance/run.sh engine    /path/to/engine.io-protocol/test-suite
#   bash test/conformance/run.sh socketio  /path/to/socket.io-protocol/test-suite
# The suite folder is a checkout of the protocol repository's test-suite/ with `npm install` run in it;
# it is not part of this repository. Port 3000 on localhost must be free.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
app="$here/${1:?engine or socketio}-app.ts"
suite="${2:?path to the test-suite folder}"
bun_bin="$(command -v bun || echo "$here/../../node_modules/.bin/bun")"
"$bun_bin" "$app" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -s -o /dev/null "http://localhost:3000/" && break
  sleep 0.1
done
cd "$suite"
npx mocha test-suite.js
