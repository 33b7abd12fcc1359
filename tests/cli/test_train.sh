#!/bin/sh
# test_train.sh - `mlp train` from the shell: a small generated problem
# trains to high accuracy and prints the summary line; the JSON log and the
# SVG plot; the same seed gives the same file byte for byte; continuing a
# saved model; bad input gives exit 2 or 1 with one line on stderr and no
# model file; Ctrl-C keeps the best model saved so far.
#
# usage: test_train.sh PATH/TO/mlp
set -u

MLP=$1
T=$(mktemp -d /tmp/mlp-train-XXXXXX)
trap 'rm -rf "$T"' EXIT
MLP_NO_BLAS_FIX=1
export MLP_NO_BLAS_FIX

failures=0
checks=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
ok() {
  desc=$1
  shift
  checks=$((checks + 1))
  if ! "$@" >"$T/out" 2>"$T/err"; then
    fail "$desc: exit $? ($(head -c 300 "$T/err"))"
    return 1
  fi
  echo "ok: $desc"
  return 0
}
# bad DESC CODE CMD...: exit CODE, one line on stderr, no model file.
bad() {
  desc=$1 code=$2
  shift 2
  checks=$((checks + 1))
  rm -f "$T/bad.safetensors"
  "$@" >"$T/out" 2>"$T/err"
  rc=$?
  if [ "$rc" -ne "$code" ]; then
    fail "$desc: exit $rc, expected $code ($(head -c 300 "$T/err"))"
  elif [ "$(wc -l <"$T/err")" -ne 1 ]; then
    fail "$desc: expected one line on stderr: $(cat "$T/err")"
  elif [ -e "$T/bad.safetensors" ]; then
    fail "$desc: left a model file"
  else
    echo "ok: $desc: $(cat "$T/err")"
  fi
}

# Two classes split by the circle x^2 + y^2 = 0.5, 2000 rows, with a
# header and the class in the last column.
awk 'BEGIN {
  srand(7); print "x,y,class";
  for (i = 0; i < 2000; i++) {
    x = 2 * rand() - 1; y = 2 * rand() - 1;
    printf "%.5f,%.5f,%d\n", x, y, (x * x + y * y < 0.5) ? 1 : 0;
  }
}' >"$T/circle.csv"

train() {
  "$MLP" train --dims 2,32,2 --activations tanh,softmax \
    --x "$T/circle.csv" --label-column last --val-split 0.2 \
    --epochs 30 --batch 32 --lr 0.01 --threads 1 "$@"
}

# --- training, summary line, log, plot -------------------------------------

ok "mlp train --help" "$MLP" train --help &&
  { grep -q '^usage: mlp train' "$T/out" || fail "no usage in --help"; }

if ok "train with validation and a test set" train --seed 1 \
  --test-x "$T/circle.csv" --json "$T/log.jsonl" --plot "$T/plot.svg" \
  -o "$T/a.safetensors"; then
  last=$(tail -n 1 "$T/out")
  checks=$((checks + 1))
  if ! echo "$last" |
    grep -Eq '^accuracy=[0-9.]+ loss=[0-9.]+ samples_per_s=[0-9]+$'; then
    fail "summary line: '$last'"
  fi
  acc=$(echo "$last" | sed 's/^accuracy=\([0-9.]*\) .*/\1/')
  checks=$((checks + 1))
  awk -v a="$acc" 'BEGIN { exit !(a > 0.9) }' ||
    fail "accuracy $acc on an easy problem"
  checks=$((checks + 1))
  [ -s "$T/a.safetensors" ] || fail "no model file"
  checks=$((checks + 1))
  [ "$(wc -l <"$T/log.jsonl")" -eq 31 ] ||
    fail "log: $(wc -l <"$T/log.jsonl") lines, expected 30 epochs + test"
  checks=$((checks + 1))
  head -c 4 "$T/plot.svg" | grep -q '<svg' || fail "plot is no SVG"
  if [ -x /usr/bin/python3 ]; then
    checks=$((checks + 1))
    /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows[0]["epoch"] == 1 and rows[29]["epoch"] == 30, rows[0]
assert rows[30]["test_accuracy"] > 0.9, rows[30]
' "$T/log.jsonl" || fail "log is not one JSON object per line"
  fi
fi

# --- determinism ------------------------------------------------------------

ok "same seed again" train --seed 1 -q -o "$T/b.safetensors" &&
  { checks=$((checks + 1)); cmp -s "$T/a.safetensors" "$T/b.safetensors" ||
    fail "the same seed gave another model"; }
ok "another seed" train --seed 2 -q -o "$T/c.safetensors" &&
  { checks=$((checks + 1)); cmp -s "$T/a.safetensors" "$T/c.safetensors" &&
    fail "another seed gave the same model"; }

# --- continuing a model ----------------------------------------------------

ok "continue from a saved model" "$MLP" train --model "$T/a.safetensors" \
  --x "$T/circle.csv" --label-column last --epochs 2 --optim momentum \
  --lr 0.01 --threads 1 -q -o "$T/d.safetensors"

# --- bad input ---------------------------------------------------------------

bad "unknown optimiser" 2 train --optim adagrad -o "$T/bad.safetensors"
bad "validation split out of range" 2 train --val-split 1.5 \
  -o "$T/bad.safetensors"
bad "no labels" 2 "$MLP" train --dims 2,2 --activations softmax \
  --x "$T/circle.csv" -o "$T/bad.safetensors"
bad "loss for another output" 2 train --loss bce -o "$T/bad.safetensors"
bad "inputs of another width" 1 "$MLP" train --dims 3,2 \
  --activations softmax --x "$T/circle.csv" --label-column last \
  -o "$T/bad.safetensors"
bad "missing file" 1 "$MLP" train --dims 2,2 --activations softmax \
  --x "$T/nothing.csv" --label-column last -o "$T/bad.safetensors"

# --- Ctrl-C ------------------------------------------------------------------

# Many epochs of small batches; once the first best model is saved, SIGINT
# must stop the run (exit 130) and leave that model loadable.
"$MLP" train --dims 2,256,256,2 --activations relu,relu,softmax \
  --x "$T/circle.csv" --label-column last --val-split 0.2 --epochs 100000 \
  --batch 4 --threads 1 -o "$T/int.safetensors" >"$T/int.out" 2>"$T/int.err" &
pid=$!
i=0
while [ ! -e "$T/int.safetensors" ] && [ "$i" -lt 600 ]; do
  sleep 0.1
  i=$((i + 1))
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
checks=$((checks + 1))
if [ "$rc" -ne 130 ]; then
  fail "Ctrl-C: exit $rc, expected 130 ($(tail -n 1 "$T/int.err"))"
elif ! "$MLP" info "$T/int.safetensors" >/dev/null 2>&1; then
  fail "Ctrl-C: the saved model does not load"
else
  echo "ok: Ctrl-C: $(tail -n 1 "$T/int.err")"
fi

echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ]
