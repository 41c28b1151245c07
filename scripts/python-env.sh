#!/usr/bin/env bash
# Prints the path of a Python virtual environment with the pinned test requirements
# (python/requirements-test.txt, plus mouse-core 0.3.0 without its dependencies as the reference
# implementation), creating it on first use. The environment is cached outside the checkout,
# keyed by the requirements' hash, so the large PyPI torch build is downloaded once per machine:
# $MOUSE_DATA_VENV if set, else ~/.cache/mouse-data/venv-<hash>. The packages of the peer
# benchmark (bench/peers/requirements.txt: torchrl, matplotlib) are added to it without their
# dependencies, once per version of that file, so changing them does not download torch again;
# so are python/requirements-extra.txt's (gymnasium for the collection-loop tests).
set -euo pipefail
cd "$(dirname "$0")/.."

# Adds the packages of a requirements file to the venv without their dependencies, once per
# version of that file (a marker .layer-<name>-<hash>), so changing it does not download torch
# again.
add_layer() {
  local venv=$1 file=$2 name layer_hash
  name=$(basename "$(dirname "$file")")-$(basename "$file" .txt)
  layer_hash=$(sha256sum "$file" | cut -c1-12)
  if [[ ! -f "$venv/.layer-$name-$layer_hash" ]]; then
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$file" >&2
    rm -f "$venv"/.layer-"$name"-*
    touch "$venv/.layer-$name-$layer_hash"
  fi
}

add_layers() {
  add_layer "$1" bench/peers/requirements.txt
  add_layer "$1" python/requirements-extra.txt
}

hash=$(cat python/requirements-test.txt python/requirements-oracle.txt | sha256sum | cut -c1-12)
venv=${MOUSE_DATA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mouse-data/venv-$hash}
if [[ -x "$venv/bin/python" && -f "$venv/.complete" ]]; then
  add_layers "$venv"
  echo "$venv"
  exit 0
fi

# The pins (numpy 2.5, mouse-core 0.3.0) need CPython >= 3.12.
python=""
for cand in python3.12 python3.13 /root/.pyenv/versions/3.12*/bin/python3 python3; do
  if command -v "$cand" >/dev/null 2>&1 &&
     "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    python=$(command -v "$cand")
    break
  fi
done
if [[ -z $python ]]; then
  echo "python-env.sh: the Python tests need CPython >= 3.12 (python3.12 on PATH)" >&2
  exit 1
fi

echo "creating $venv with $python (first run: downloads torch, several GB)" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r python/requirements-test.txt >&2
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r python/requirements-oracle.txt >&2
touch "$venv/.complete"
add_layers "$venv"
echo "$venv"
