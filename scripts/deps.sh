#!/usr/bin/env bash
# Installs the Debian packages Eventide needs, only when some are missing.
# Runs as root on the project's machines (CI and development); uses sudo otherwise.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git curl
  clang libclang-rt-14-dev          # libFuzzer and sanitizer runtimes
  libuv1-dev                        # event loop, thread pool
  node-llhttp                       # HTTP/1.1 parser C sources, compiled in the build
  libwslay-dev                      # WebSocket framing
  libssl-dev                        # TLS, JWT, certificates
  libxxhash-dev                     # WAL checksums (XXH3)
  zlib1g-dev                        # gzip of static files, once at start-up
  rapidjson-dev                     # JSON
  libyaml-cpp-dev                   # config.yaml
  libcli11-dev                      # command-line parsing
  libgtest-dev libgmock-dev         # unit tests
  libbenchmark-dev                  # micro-benchmarks
  libnghttp2-dev                    # HTTP/2 framing, HPACK, flow control (the h2 server side)
  nghttp2-client                    # h2load, the HTTP/2 load tool of tools/bench/
  libnats-dev                       # NATS/JetStream client (--log jetstream), with its libuv adapter
  nats-server                       # JetStream cluster for the cluster tests
  wrk                               # the independent load tool of tools/bench/
  chromium                          # real-browser tests (driven by playwright-core from npm)
)
# Node.js runs the conformance suite (no npm packages) and, with npm, the
# real-client tests. A node already on PATH counts, wherever it came from;
# only without one is Debian's installed.
if ! command -v node >/dev/null 2>&1; then packages+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
