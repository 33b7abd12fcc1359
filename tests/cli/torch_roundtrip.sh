#!/bin/sh
# torch_roundtrip.sh PATH/TO/mlp: PyTorch models exported with the Python
# of docs/formats-models.md run in mlp as in PyTorch, and models made by
# mlp load in PyTorch. Skipped (exit 77) without a python3 that has torch.
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import torch, numpy' >/dev/null 2>&1; then
    MLP_NO_BLAS_FIX=1 exec "$p" "$(dirname "$0")/torch_roundtrip.py" "$1"
  fi
done
echo "skip: no python3 with torch and numpy (Debian: python3-torch)"
exit 77
