#!/bin/sh
# fashion-mnist.sh - libmlp's main job: trains an MLP on Fashion-MNIST's
# 60,000 training images (6,000 of them held out for validation and
# early stopping), evaluates the best model on the 10,000 test images,
# times the batched forward pass over the test set, and ends with one
# line:
#
#     accuracy=0.8912 loss=0.3107 samples_per_s=123456
#
# (test accuracy as a fraction, the test set's mean cross-entropy, and
# forward-pass samples per second). The model is saved for `mlp eval` and
# `mlp run`.
#
# Environment (all optional):
#   BUILD          the meson build directory (default: build); built here
#                  when it has no mlp program yet
#   FASHION_MNIST  the directory of the four .gz files (default: Debian's
#                  dataset-fashion-mnist package, /usr/share/datasets/...)
#   OUT            the model file (default: fashion-mnist.safetensors)
#   EPOCHS, SEED   training length and seed (20, 1)
#   THREADS        BLAS threads of training (default 1: this network's
#                  GEMMs are small, and one thread is as fast as two on a
#                  busy 2-core machine and never stalls on a descheduled
#                  partner)
#   TEST_THREADS   BLAS threads of the timed forward pass (default: all
#                  cores)
#
# The mlp program itself switches OpenBLAS 0.3.21 from its slow generic
# core to the one this CPU supports (OPENBLAS_CORETYPE, see docs/).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
out=${OUT:-$root/fashion-mnist.safetensors}
epochs=${EPOCHS:-20}
seed=${SEED:-1}
threads=${THREADS:-1}
test_threads=${TEST_THREADS:-$(nproc 2>/dev/null || echo 2)}

for f in train-images-idx3-ubyte train-labels-idx1-ubyte \
         t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ ! -r "$data/$f.gz" ]; then
    echo "fashion-mnist.sh: $data/$f.gz not found (Debian: apt-get install" \
         "dataset-fashion-mnist, or set FASHION_MNIST)" >&2
    exit 1
  fi
done

if [ ! -x "$build/tools/mlp" ]; then
  [ -d "$build" ] || meson setup "$build" "$root" >&2
  ninja -C "$build" >&2
fi

# 784 pixels scaled to [0, 1] -> 256 -> 128 -> 10 classes; AdamW with a
# cosine decay over the run; the best epoch by validation loss is kept.
exec "$build/tools/mlp" train \
  --dims 784,256,128,10 --activations relu,relu,softmax --init he \
  --x "$data/train-images-idx3-ubyte.gz" \
  --labels "$data/train-labels-idx1-ubyte.gz" \
  --scale 1/255 --val-split 0.1 \
  --test-x "$data/t10k-images-idx3-ubyte.gz" \
  --test-labels "$data/t10k-labels-idx1-ubyte.gz" \
  --optim adamw --lr 0.001 --weight-decay 0.05 --schedule cosine \
  --epochs "$epochs" \
  --batch 128 --seed "$seed" --threads "$threads" \
  --test-threads "$test_threads" \
  -o "$out"
