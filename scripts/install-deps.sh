#!/usr/bin/env bash
# Installs the Debian 12 packages the build and tests need, and the npm test oracles.
# Idempotent and quiet: does nothing when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build g++ pkg-config git
  libflatbuffers-dev nlohmann-json3-dev libzstd-dev liblz4-dev zlib1g-dev
  libcli11-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev libdlpack-dev
  libyaml-cpp-dev libpng-dev libjpeg62-turbo-dev libsnappy-dev libbrotli-dev
  libdeflate-dev libspng-dev libcurl4-openssl-dev nginx-light
)
# Node.js is needed for the cross-implementation oracles; the Debian package only if no node yet.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
# clang and its runtime only for the optional fuzz preset.
if [[ "${MOUSE_WITH_FUZZ:-0}" == 1 ]]; then packages+=(clang-14 libclang-rt-14-dev); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "${MOUSE_SKIP_NPM:-0}" != 1 && ! -d tests/oracle/node_modules/apache-arrow ]]; then
  (cd tests/oracle && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi
