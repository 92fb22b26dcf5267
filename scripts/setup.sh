#!/usr/bin/env bash
# Set up what the book and the tests need: a virtual environment with requirements.txt
# and cgan_lib, and the default dataset (Fashion-MNIST from the Debian package where
# apt is available; otherwise torchvision downloads it on first use).
set -euo pipefail
PYTHON=${1:-python3}
VENV=${2:-.venv}

if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  echo "[setup] installing dataset-fashion-mnist (apt)"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist; } \
    || echo "[setup] apt failed: Fashion-MNIST will be downloaded by torchvision on first use"
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements.txt
"$VENV/bin/python" -m pip install -q --no-deps -e .
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
echo "[setup] done: $("$VENV/bin/python" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)')"
