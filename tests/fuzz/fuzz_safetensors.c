/*
 * fuzz_safetensors.c - libFuzzer target: arbitrary bytes loaded as a
 * safetensors model through the public mlp_model_load_buffer, with and
 * without caller activations; a model that loads must run a forward pass
 * and save again.
 */
#include <stdint.h>
#include <stdlib.h>

#include "mlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const mlp_act acts[4] = {MLP_ACT_RELU, MLP_ACT_TANH, MLP_ACT_SIGMOID,
                                  MLP_ACT_SOFTMAX};
  for (int pass = 0; pass < 2; pass++) {
    mlp_load_options o = {0};
    mlp_model *m = NULL;
    if (pass == 1) {
      o.acts = acts;
      o.n_acts = 2;
      o.flags = MLP_LOAD_ALLOW_NONFINITE;
    }
    if (mlp_model_load_buffer(&m, data, size, &o) != MLP_OK)
      continue;
    size_t in = mlp_model_width(m, 0);
    size_t out = mlp_model_width(m, mlp_model_layers(m));
    size_t es = mlp_dtype_size(mlp_model_dtype(m));
    mlp_ctx *ctx = NULL;
    if (in <= 4096 && out <= 4096 &&
        mlp_ctx_create(&ctx, m, 2, 0, NULL, 0) == MLP_OK) {
      void *x = calloc(2 * in, es), *y = calloc(2 * out, es);
      if (x != NULL && y != NULL)
        mlp_forward(m, ctx, x, 2, y);
      free(x);
      free(y);
      mlp_ctx_free(ctx);
    }
    size_t need = 0;
    mlp_model_save_buffer(m, NULL, 0, &need);
    if (need > 0 && need < ((size_t)64 << 20)) {
      void *buf = malloc(need);
      if (buf != NULL)
        mlp_model_save_buffer(m, buf, need, &need);
      free(buf);
    }
    mlp_model_free(m);
  }
  return 0;
}
