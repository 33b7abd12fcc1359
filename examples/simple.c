/*
 * simple.c - the smallest complete libmlp program: build a 4-8-3 network,
 * initialise it from a seed, run a batch of two rows and print the class
 * probabilities, the predictions and the cross-entropy.
 *
 *   cc simple.c $(pkg-config --cflags --libs mlp) -o simple && ./simple
 */
#include <stdio.h>
#include <stdlib.h>

#include <mlp.h>

static int fail(const char *what, int status) {
  fprintf(stderr, "simple: %s: %s (%s)\n", what, mlp_last_error(),
          mlp_status_name(status));
  return EXIT_FAILURE;
}

int main(void) {
  const size_t widths[] = {4, 8, 3};
  const mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_SOFTMAX};
  const float x[2 * 4] = {0.5f, -1.0f, 2.0f,  0.0f,  /* row 0 */
                          1.5f, 0.25f, -0.5f, 1.0f}; /* row 1 */
  const int32_t labels[2] = {2, 0};
  float y[2 * 3];
  int32_t pred[2];
  double loss;
  mlp_model *model;
  mlp_ctx *ctx;
  int rc;

  rc = mlp_model_create(&model, MLP_F32, 2, widths, acts, MLP_LAYOUT_IN_OUT);
  if (rc != MLP_OK)
    return fail("create", rc);
  rc = mlp_model_init(model, MLP_INIT_HE_NORMAL, 42, 1.0);
  if (rc == MLP_OK)
    rc = mlp_ctx_create(&ctx, model, 2, 0, NULL, 0);
  if (rc != MLP_OK) {
    mlp_model_free(model);
    return fail("setup", rc);
  }
  rc = mlp_forward(model, ctx, x, 2, y);
  if (rc == MLP_OK)
    rc = mlp_ctx_loss(ctx, MLP_LOSS_CROSS_ENTROPY, labels, NULL, NULL, &loss);
  if (rc == MLP_OK)
    rc = mlp_argmax(MLP_F32, y, 2, 3, pred);
  if (rc == MLP_OK) {
    for (int i = 0; i < 2; i++)
      printf("row %d: p = [%.4f %.4f %.4f]  predicted %d, true %d\n", i,
             y[3 * i], y[3 * i + 1], y[3 * i + 2], (int)pred[i],
             (int)labels[i]);
    printf("cross-entropy (mean over the batch) = %.6f\n", loss);
  }
  mlp_ctx_free(ctx);
  mlp_model_free(model);
  return rc == MLP_OK ? EXIT_SUCCESS : fail("forward", rc);
}
