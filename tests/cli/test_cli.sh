#!/bin/sh
# test_cli.sh - the mlp program from the shell: init, info, run and eval on
# small generated data; bad input gives a non-zero exit, one line on
# stderr and no output file; Ctrl-C leaves no output; the OpenBLAS core
# fix; Fashion-MNIST's test set when installed.
#
# usage: test_cli.sh PATH/TO/mlp   (MLP_TEST_DATA: tests/data)
set -u

MLP=$1
DATA=${MLP_TEST_DATA:-$(dirname "$0")/../data}
FASHION=${MLP_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
T=$(mktemp -d /tmp/mlp-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
# The error-line checks want stderr to hold only the error: no notice of
# the core fix (tested on its own below).
MLP_NO_BLAS_FIX=1
export MLP_NO_BLAS_FIX

failures=0
checks=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# ok DESC CMD...: CMD must exit 0.
ok() {
  desc=$1
  shift
  checks=$((checks + 1))
  if ! "$@" >"$T/out" 2>"$T/err"; then
    fail "$desc: exit $? ($(head -c 300 "$T/err"))"
    return 1
  fi
  return 0
}

# bad DESC CODE OUTPUT CMD...: CMD must exit CODE with exactly one line on
# stderr that starts with "mlp", and leave neither OUTPUT nor any
# temporary file next to it.
bad() {
  desc=$1 code=$2 output=$3
  shift 3
  checks=$((checks + 1))
  "$@" >"$T/out" 2>"$T/err"
  rc=$?
  lines=$(wc -l <"$T/err")
  if [ "$rc" -ne "$code" ]; then
    fail "$desc: exit $rc, expected $code ($(head -c 300 "$T/err"))"
  elif [ "$lines" -ne 1 ]; then
    fail "$desc: $lines lines on stderr, expected 1: $(cat "$T/err")"
  elif ! grep -q '^mlp' "$T/err"; then
    fail "$desc: stderr does not start with 'mlp': $(cat "$T/err")"
  elif [ -n "$output" ] && [ -e "$output" ]; then
    fail "$desc: left $output behind"
  elif [ -n "$output" ] && ls "$output".tmp* >/dev/null 2>&1; then
    fail "$desc: left a temporary file behind"
  else
    echo "ok: $desc: $(cat "$T/err")"
  fi
}

# A python3 with numpy, for numeric checks (optional).
PY=
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import numpy' >/dev/null 2>&1; then
    PY=$p
    break
  fi
done

# --- help and usage ---------------------------------------------------------

ok "mlp --help" "$MLP" --help
for c in info init run eval; do
  if ok "mlp $c --help" "$MLP" "$c" --help; then
    grep -q '^usage: mlp' "$T/out" || fail "mlp $c --help prints no usage"
  fi
done
bad "no command" 2 "" "$MLP"
bad "unknown command" 2 "" "$MLP" frobnicate
bad "unknown option" 2 "" "$MLP" run --frobnicate
bad "option without value" 2 "" "$MLP" run --batch

# --- init and info ----------------------------------------------------------

M=$T/m.safetensors
ok "init" "$MLP" init --dims 4,8,3 --activations relu,softmax --seed 5 -o "$M"
ok "info" "$MLP" info "$M"
grep -q 'layer 1    4 -> 8, relu' "$T/out" || fail "info: layer 1 line"
grep -q 'layer 2    8 -> 3, softmax' "$T/out" || fail "info: layer 2 line"
grep -q '^parameters   67$' "$T/out" || fail "info: parameter count"
grep -q '^dtype        f32$' "$T/out" || fail "info: dtype"
grep -q '^blas ' "$T/out" || fail "info: no blas line"
grep -q '^kernels ' "$T/out" || fail "info: no kernels line"
ok "init again, same seed" "$MLP" init --dims 4,8,3 --activations relu,softmax \
  --seed 5 -o "$T/m2.safetensors"
cmp -s "$M" "$T/m2.safetensors" || fail "same seed gives another file"
ok "init, other seed" "$MLP" init --dims 4,8,3 --activations relu,softmax \
  --seed 6 -o "$T/m3.safetensors"
cmp -s "$M" "$T/m3.safetensors" && fail "another seed gives the same file"
ok "init f64 leaky" "$MLP" init --dims 4,5,1 --activations leaky_relu,sigmoid \
  --dtype f64 --init xavier_normal -o "$T/m64.safetensors"
ok "info f64" "$MLP" info "$T/m64.safetensors"
grep -q '^dtype        f64$' "$T/out" || fail "info: f64 dtype"

bad "init: bad dims" 2 "$T/x.safetensors" \
  "$MLP" init --dims 4,x,3 --activations relu,softmax -o "$T/x.safetensors"
bad "init: activation count" 2 "$T/x.safetensors" \
  "$MLP" init --dims 4,8,3 --activations relu -o "$T/x.safetensors"
bad "init: unknown activation" 2 "$T/x.safetensors" \
  "$MLP" init --dims 4,3 --activations rleu -o "$T/x.safetensors"
bad "init: unknown init" 2 "$T/x.safetensors" \
  "$MLP" init --dims 4,3 --activations relu --init foo -o "$T/x.safetensors"
bad "init: no output" 2 "" "$MLP" init --dims 4,3 --activations relu
bad "init: missing dir" 1 "$T/no/x.safetensors" \
  "$MLP" init --dims 4,3 --activations relu -o "$T/no/x.safetensors"

for f in "$DATA"/models/malformed/*.safetensors; do
  bad "info: $(basename "$f")" 1 "" "$MLP" info "$f"
done
bad "info: missing file" 1 "" "$MLP" info "$T/none.safetensors"
ok "info --allow-nonfinite" "$MLP" info --allow-nonfinite \
  "$DATA/models/malformed/nan_weight.safetensors"

# --- run ----------------------------------------------------------------------

# 10 rows of 4 values, labels 0..2, one-hot targets.
awk 'BEGIN { for (i = 0; i < 10; i++)
  printf "%g,%g,%g,%g\n", i / 10, 1 - i / 7, (i % 3) - 1, i * i / 50 }' \
  >"$T/x.csv"
awk 'BEGIN { for (i = 0; i < 10; i++) print i % 3 }' >"$T/labels.csv"
awk 'BEGIN { for (i = 0; i < 10; i++)
  printf "%d,%d,%d\n", i % 3 == 0, i % 3 == 1, i % 3 == 2 }' >"$T/targets.csv"

ok "run to csv" "$MLP" run "$M" "$T/x.csv" -o "$T/y.csv"
[ "$(wc -l <"$T/y.csv")" -eq 10 ] || fail "run: not 10 rows of output"
awk -F, '{ s = $1 + $2 + $3; if (NF != 3 || s < 0.9999 || s > 1.0001) bad = 1 }
  END { exit bad }' "$T/y.csv" || fail "run: softmax rows do not sum to 1"
ok "run in batches of 3" "$MLP" run --batch 3 "$M" "$T/x.csv" -o "$T/y3.csv"
# Each row's output depends on that row alone, up to rounding: a chunk of
# one row may take the BLAS's GEMV and narrow chunks the plain C kernels.
paste -d, "$T/y.csv" "$T/y3.csv" | awk -F, '{
  n = NF / 2
  for (i = 1; i <= n; i++) {
    d = $i - $(i + n); if (d < 0) d = -d
    if (d > 1e-6) bad = 1
  } } END { exit bad }' ||
  fail "run: batch 3 differs from one batch by more than rounding"
ok "run to npy" "$MLP" run --threads 1 "$M" "$T/x.csv" -o "$T/y.npy"
head -c 6 "$T/y.npy" | od -c | grep -q 'N   U   M   P   Y' ||
  fail "run: y.npy is no .npy file"
ls "$T"/*.tmp* >/dev/null 2>&1 && fail "run: temporary files left"

if [ -n "$PY" ]; then
  checks=$((checks + 1))
  "$PY" "$(dirname "$0")/check_forward.py" "$M" "$T/x.csv" "$T/y.npy" ||
    fail "run: outputs differ from numpy's forward pass"
else
  echo "skip: numeric check of run (no python3 with numpy)"
fi

echo "1,2,3,4,5" >"$T/wide.csv"
bad "run: input width" 1 "$T/o.csv" "$MLP" run "$M" "$T/wide.csv" -o "$T/o.csv"
bad "run: missing model" 1 "$T/o.csv" \
  "$MLP" run "$T/none.safetensors" "$T/x.csv" -o "$T/o.csv"
bad "run: malformed model" 1 "$T/o.csv" "$MLP" run \
  "$DATA/models/malformed/no_chain.safetensors" "$T/x.csv" -o "$T/o.csv"
bad "run: missing input" 1 "$T/o.csv" "$MLP" run "$M" "$T/none.csv" \
  -o "$T/o.csv"
bad "run: output extension" 1 "$T/o.xyz" "$MLP" run "$M" "$T/x.csv" \
  -o "$T/o.xyz"
bad "run: output directory" 1 "$T/no/o.csv" "$MLP" run "$M" "$T/x.csv" \
  -o "$T/no/o.csv"
bad "run: no -o" 2 "" "$MLP" run "$M" "$T/x.csv"
bad "run: batch 0" 2 "$T/o.csv" "$MLP" run --batch 0 "$M" "$T/x.csv" \
  -o "$T/o.csv"
# A bad field after many good rows: rows were already written to the
# temporary file, which must go.
awk 'BEGIN { for (i = 0; i < 3000; i++) print "1,2,3,4"; print "1,2,abc,4" }' \
  >"$T/badfield.csv"
bad "run: bad CSV field" 1 "$T/o.npy" "$MLP" run --batch 100 "$M" \
  "$T/badfield.csv" -o "$T/o.npy"
# An existing output survives a failed run untouched.
echo keep >"$T/keep.csv"
"$MLP" run "$M" "$T/wide.csv" -o "$T/keep.csv" 2>/dev/null
[ "$(cat "$T/keep.csv")" = keep ] || fail "run: failed run changed the output"

# --- eval ---------------------------------------------------------------------

ok "eval" "$MLP" eval "$M" "$T/x.csv" "$T/labels.csv"
grep -q '^samples    10$' "$T/out" || fail "eval: samples"
grep -q '^accuracy ' "$T/out" || fail "eval: accuracy"
ok "eval --json" "$MLP" eval --json "$M" "$T/x.csv" "$T/labels.csv"
grep -q '^{"samples":10,"loss":"cross_entropy","mean_loss":[0-9.e+-]*,' \
  "$T/out" || fail "eval --json: $(cat "$T/out")"
if [ -n "$PY" ]; then
  checks=$((checks + 1))
  "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["samples"] == 10 and 0 <= d["accuracy"] <= 1, d
assert sum(c["samples"] for c in d["classes"]) == 10, d
assert sum(c["predicted"] for c in d["classes"]) == 10, d
assert sum(c["correct"] for c in d["classes"]) == d["correct"], d' \
    "$T/out" || fail "eval --json: not the expected JSON"
fi
ok "eval mse" "$MLP" eval --loss mse "$M" "$T/x.csv" "$T/targets.csv"
grep -q '^loss       mse$' "$T/out" || fail "eval mse: loss line"
awk 'BEGIN { for (i = 0; i < 10; i++) print i % 2 }' >"$T/binary.csv"
ok "eval bce" "$MLP" eval --loss bce --json "$T/m64.safetensors" "$T/x.csv" \
  "$T/binary.csv"
grep -q '"loss":"bce"' "$T/out" || fail "eval bce: $(cat "$T/out")"

awk 'BEGIN { for (i = 0; i < 10; i++) print (i == 4) ? 7 : 0 }' \
  >"$T/badlabels.csv"
bad "eval: label out of range" 1 "" "$MLP" eval "$M" "$T/x.csv" \
  "$T/badlabels.csv"
head -n 9 "$T/labels.csv" >"$T/short.csv"
bad "eval: row count" 1 "" "$MLP" eval "$M" "$T/x.csv" "$T/short.csv"
bad "eval: ce without softmax" 1 "" "$MLP" eval "$T/m64.safetensors" \
  "$T/x.csv" "$T/labels.csv"
bad "eval: unknown loss" 2 "" "$MLP" eval --loss hinge "$M" "$T/x.csv" \
  "$T/labels.csv"
bad "eval: mse target width" 1 "" "$MLP" eval --loss mse "$M" "$T/x.csv" \
  "$T/labels.csv"

# --- Ctrl-C -------------------------------------------------------------------

# A slow run (batch 1 through wide layers); SIGINT must stop it with 130
# and remove the temporary output.
awk 'BEGIN { OFS = ","
  for (i = 0; i < 200000; i++) print i % 7, i % 5, i % 3, 1 }' >"$T/big.csv"
ok "init wide" "$MLP" init --dims 4,1024,1024,3 \
  --activations relu,relu,softmax -o "$T/wide.safetensors"
checks=$((checks + 1))
"$MLP" run --batch 1 --threads 1 "$T/wide.safetensors" "$T/big.csv" \
  -o "$T/big.npy" 2>"$T/err" &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$?
if [ "$rc" -ne 130 ]; then
  fail "SIGINT: exit $rc, expected 130 ($(cat "$T/err"))"
elif [ -e "$T/big.npy" ] || ls "$T"/big.npy.tmp* >/dev/null 2>&1; then
  fail "SIGINT: output or temporary file left"
else
  echo "ok: SIGINT: $(cat "$T/err")"
fi

# --- the OpenBLAS core fix ----------------------------------------------------

checks=$((checks + 1))
env -u MLP_NO_BLAS_FIX -u OPENBLAS_CORETYPE "$MLP" info "$M" >"$T/out" \
  2>"$T/err" || fail "info without MLP_NO_BLAS_FIX"
if grep -q 'set by mlp through OPENBLAS_CORETYPE' "$T/out"; then
  grep -q 'MLP_NO_BLAS_FIX=1 disables' "$T/err" ||
    fail "core fix: no notice on stderr"
  "$MLP" info "$M" | grep -q 'slow:' ||
    fail "core fix: MLP_NO_BLAS_FIX=1 did not keep the slow core"
  echo "ok: core fix: $(cat "$T/err")"
else
  [ -s "$T/err" ] && fail "core fix: notice without a fix: $(cat "$T/err")"
  echo "ok: core fix: not needed on this machine"
fi

# --- Fashion-MNIST ------------------------------------------------------------

if [ -r "$FASHION/t10k-images-idx3-ubyte.gz" ] &&
  [ -r "$FASHION/t10k-labels-idx1-ubyte.gz" ]; then
  F=$T/fashion.safetensors
  ok "fashion: init" "$MLP" init --dims 784,64,10 --activations relu,softmax \
    --seed 1 -o "$F"
  ok "fashion: run" "$MLP" run --scale 1/255 "$F" \
    "$FASHION/t10k-images-idx3-ubyte.gz" -o "$T/fashion.npy"
  # 10000 x 10 f32 plus the 128-byte .npy header.
  size=$(wc -c <"$T/fashion.npy")
  [ "$size" -eq 400128 ] || fail "fashion: output has $size bytes"
  ok "fashion: eval" "$MLP" eval --json --scale 1/255 "$F" \
    "$FASHION/t10k-images-idx3-ubyte.gz" "$FASHION/t10k-labels-idx1-ubyte.gz"
  grep -q '"samples":10000' "$T/out" || fail "fashion: eval samples"
  echo "ok: fashion: $(head -c 120 "$T/out")"
else
  echo "skip: Fashion-MNIST not installed in $FASHION"
fi

echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ]
