/* libmlp peer: the whole MLP through libmlp's public API (mlp.h): a
 * float32 model of the workload's shape with its weights copied in
 * (layout [in, out]), one context sized for the batch, and
 * mlp_forward timed. Threads: mlp_ctx_set_threads(ctx, T) with a
 * one-thread BLAS (LIBMLP_BLAS_THREADS=1: mlp_blas_set_threads(T) and
 * one context thread instead). The result line
 * adds core= (the OpenBLAS core) and kernels= (libmlp's kernel set). */
#include "../common/peer.h"
#include <mlp.h>

typedef struct {
  const mlp_model *model;
  mlp_ctx *ctx;
  const float *x;
  float *y;
  size_t batch;
} run_ctx;

static void check(int rc, const char *what) {
  if (rc != MLP_OK) {
    fprintf(stderr, "libmlp: %s: %s (%s)\n", what, mlp_strerror(rc),
            mlp_last_error());
    exit(3);
  }
}

static void fwd(void *p) {
  run_ctx *r = p;
  mlp_forward(r->model, r->ctx, r->x, r->batch, r->y);
}

int main(int argc, char **argv) {
  const char *wl;
  int B, T;
  peer_args(argc, argv, &wl, &B, &T);
  peer_net net;
  peer_load(&net, wl);
  if (B > net.rows)
    peer_die("batch larger than generated rows", wl);

  size_t widths[PEER_MAXL + 1];
  mlp_act acts[PEER_MAXL];
  for (int l = 0; l <= net.L; l++)
    widths[l] = (size_t)net.dims[l];
  for (int l = 0; l < net.L; l++)
    check(mlp_act_parse(net.acts[l], &acts[l]), net.acts[l]);
  mlp_model *model;
  check(mlp_model_create(&model, MLP_F32, (size_t)net.L, widths, acts,
                         MLP_LAYOUT_IN_OUT),
        "mlp_model_create");
  for (int l = 0; l < net.L; l++)
    check(mlp_model_set_layer(model, (size_t)l + 1, net.W[l], MLP_LAYOUT_IN_OUT,
                              net.b[l]),
          "mlp_model_set_layer");
  /* T threads: the context's own (each block of rows on a one-thread
   * BLAS); LIBMLP_BLAS_THREADS=1 in the environment gives them to the
   * BLAS instead. */
  const char *bt = getenv("LIBMLP_BLAS_THREADS");
  int blas_only = bt && *bt == '1';
  if (mlp_blas_set_threads(blas_only ? T : 1) != MLP_OK && T > 1)
    peer_die("cannot set BLAS threads:", mlp_last_error());

  run_ctx r = {model, NULL, net.X, NULL, (size_t)B};
  check(mlp_ctx_create(&r.ctx, model, (size_t)B, 0, NULL, 0), "mlp_ctx_create");
  if (!blas_only)
    check(mlp_ctx_set_threads(r.ctx, T), "mlp_ctx_set_threads");
  void *y;
  if (posix_memalign(&y, 64, sizeof(float) * (size_t)B * net.dims[net.L]))
    peer_die("oom", NULL);
  r.y = y;
  check(mlp_forward(model, r.ctx, r.x, r.batch, r.y), "mlp_forward");
  double err = peer_max_err(&net, r.y, B);

  double t = peer_bench(fwd, &r);
  mlp_blas_info info;
  mlp_blas_info_get(&info);
  char extra[256];
  snprintf(extra, sizeof extra, "core=%s kernels=%s threads=%s",
           info.core[0] ? info.core : info.vendor,
           mlp_kernels_name(mlp_ctx_kernels(r.ctx)),
           blas_only ? "blas" : "context");
  peer_report(&net, B, t, err, extra);
  mlp_ctx_free(r.ctx);
  mlp_model_free(model);
  free(y);
  return 0;
}
