/*
 * mlp.h - libmlp, batched multilayer perceptrons on CBLAS.
 *
 * The network, in the notation of docs/api.md: Y_0 = X, a batch of B rows,
 * and for each layer k = 1..N
 *
 *     Z_k = Y_{k-1} W_k + b_k,      Y_k = f_k(Z_k)
 *
 * W_k has shape [in, out] (w[i][j] joins input i to neuron j); the output
 * is Y_N. One GEMM per layer computes Y_{k-1} W_k for the whole batch, then
 * one vectorized pass adds b_k and applies f_k.
 *
 * Conventions of every call below:
 * - Status: functions return MLP_OK (0) or a negative mlp_status. The
 *   message of the most recent failure on the calling thread is
 *   mlp_last_error(). The library never prints, exits or aborts.
 * - Data: matrices are dense and row-major; rows are samples. A `void *`
 *   buffer holds elements of the model's dtype (float or double).
 * - Memory: every mlp_X_create has a matching mlp_X_free that accepts NULL.
 *   The library allocates through mlp_set_allocator()'s functions.
 * - Threads: a mlp_model is immutable for passes: any number of threads may
 *   run passes on one model at once, each with its own mlp_ctx. Calls that
 *   change a model (set, init, train) must not overlap passes on it.
 *
 * This header is C99 and C++ compatible and includes no BLAS header.
 */
#ifndef MLP_H
#define MLP_H

#include <stddef.h>
#include <stdint.h>

#if defined(MLP_BUILDING) && defined(__GNUC__)
#define MLP_API __attribute__((visibility("default")))
#else
#define MLP_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Version
 */

#define MLP_VERSION_MAJOR 0
#define MLP_VERSION_MINOR 1
#define MLP_VERSION_PATCH 0
#define MLP_VERSION_STRING "0.1.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for compile-time comparisons. */
#define MLP_VERSION_NUMBER                                                     \
  (MLP_VERSION_MAJOR * 10000 + MLP_VERSION_MINOR * 100 + MLP_VERSION_PATCH)

/* The version of the library loaded at run time, as "MAJOR.MINOR.PATCH". */
MLP_API const char *mlp_version(void);
/* The same as MLP_VERSION_NUMBER of the library loaded at run time. */
MLP_API int mlp_version_number(void);

/* ------------------------------------------------------------------------
 * Status codes and diagnostics
 */

typedef enum mlp_status {
  MLP_OK = 0,
  MLP_ERR_NULL = -1,         /* a required pointer argument is NULL */
  MLP_ERR_ARG = -2,          /* an argument is out of its range */
  MLP_ERR_SHAPE = -3,        /* widths or shapes that do not chain */
  MLP_ERR_OVERFLOW = -4,     /* a size computation overflows size_t */
  MLP_ERR_NOMEM = -5,        /* the allocator returned NULL */
  MLP_ERR_ACTIVATION = -6,   /* unknown activation */
  MLP_ERR_DTYPE = -7,        /* unknown dtype, or not the model's */
  MLP_ERR_BATCH = -8,        /* batch of 0 rows, or too large */
  MLP_ERR_CONTEXT = -9,      /* context made for another model */
  MLP_ERR_NONFINITE = -10,   /* NaN or infinity where finite is required */
  MLP_ERR_LABEL = -11,       /* class label outside [0, width) */
  MLP_ERR_LOSS = -12,        /* unknown loss, or wrong for the output layer */
  MLP_ERR_STATE = -13,       /* call out of order (e.g. no pass ran yet) */
  MLP_ERR_UNSUPPORTED = -14, /* not available on this CPU or build */
  MLP_ERR_IO = -15,          /* a system call on a file failed */
  MLP_ERR_FORMAT = -16,      /* a file's contents are malformed */
  MLP_ERR_INTERRUPTED = -17  /* stopped on request (e.g. by a signal) */
} mlp_status;

/* The constant name of a status ("MLP_ERR_SHAPE"), or "MLP_ERR_UNKNOWN". */
MLP_API const char *mlp_status_name(int status);
/* A short English description of a status. Never NULL. */
MLP_API const char *mlp_strerror(int status);
/*
 * The message of the most recent failing call on this thread, saying what
 * was wrong and where ("layer 2: weight shape [64, 32] does not match input
 * width 33"); "" when no call has failed. Valid until the next failing call
 * on the same thread. Thread-safe (the message is per thread).
 */
MLP_API const char *mlp_last_error(void);

/*
 * Diagnostics callback: when set, the library also passes every failure
 * message to fn, with its status, on the failing thread. NULL removes it.
 * Set it before starting threads; the library itself never prints.
 */
typedef void (*mlp_log_fn)(int status, const char *message, void *user);
MLP_API void mlp_set_log_callback(mlp_log_fn fn, void *user);

/*
 * Allocator: alloc returns `size` bytes aligned to `align` (a power of two,
 * at most 4096) or NULL; free releases it (free(NULL) must be a no-op).
 * Passing NULL restores the default (posix_memalign / free). Objects must
 * be freed by the allocator that made them: change it only when no libmlp
 * object is alive. Not thread-safe.
 */
typedef struct mlp_allocator {
  void *(*alloc)(size_t size, size_t align, void *user);
  void (*free)(void *ptr, void *user);
  void *user;
} mlp_allocator;
MLP_API void mlp_set_allocator(const mlp_allocator *allocator);

/* ------------------------------------------------------------------------
 * Element types, activations, losses
 */

typedef enum mlp_dtype {
  MLP_F32 = 1, /* float */
  MLP_F64 = 2  /* double */
} mlp_dtype;

/* Bytes of one element of dtype, or 0 for an unknown dtype. */
MLP_API size_t mlp_dtype_size(mlp_dtype dtype);
/* "f32", "f64", or NULL. */
MLP_API const char *mlp_dtype_name(mlp_dtype dtype);

typedef enum mlp_act {
  MLP_ACT_IDENTITY = 0,   /* f(z) = z */
  MLP_ACT_RELU = 1,       /* max(z, 0) */
  MLP_ACT_LEAKY_RELU = 2, /* z > 0 ? z : a z, slope a (default 0.01) */
  MLP_ACT_SIGMOID = 3,    /* 1 / (1 + exp(-z)), stable for large |z| */
  MLP_ACT_TANH = 4,       /* tanh(z) */
  MLP_ACT_GELU = 5,       /* z Phi(z) = z (1 + erf(z / sqrt 2)) / 2, exact */
  MLP_ACT_SILU = 6,       /* z sigmoid(z) */
  MLP_ACT_SOFTMAX = 7     /* per row: exp(z_j - m) / sum_i exp(z_i - m) */
} mlp_act;
#define MLP_ACT_COUNT 8
#define MLP_LEAKY_RELU_DEFAULT_SLOPE 0.01

/* "identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu",
 * "softmax"; NULL for an unknown value. */
MLP_API const char *mlp_act_name(mlp_act act);
/* Parses one of the names above (case-sensitive) into *act. Returns
 * MLP_ERR_ACTIVATION for an unknown name. */
MLP_API int mlp_act_parse(const char *name, mlp_act *act);

/*
 * Losses. The divergence of one sample and its target:
 *   MLP_LOSS_CROSS_ENTROPY  -log softmax(z)_c for true class c, from the
 *                           logits z of a softmax layer (log-sum-exp);
 *   MLP_LOSS_MSE            (1/C) sum_j (y_j - d_j)^2 over the C outputs;
 *   MLP_LOSS_BCE            (1/C) sum_j -[d_j log s(z_j) + (1-d_j)
 *                           log(1 - s(z_j))] from the logits z of a
 *                           sigmoid layer, s the sigmoid.
 * The loss of a batch is the mean divergence over its rows (the empirical
 * risk); these match PyTorch's CrossEntropyLoss, MSELoss and
 * BCEWithLogitsLoss with reduction "mean".
 */
typedef enum mlp_loss {
  MLP_LOSS_CROSS_ENTROPY = 0,
  MLP_LOSS_MSE = 1,
  MLP_LOSS_BCE = 2
} mlp_loss;
/* "cross_entropy", "mse", "bce"; NULL for an unknown value. */
MLP_API const char *mlp_loss_name(mlp_loss loss);
/* Parses a name above into *loss; MLP_ERR_LOSS when unknown. */
MLP_API int mlp_loss_parse(const char *name, mlp_loss *loss);

/* ------------------------------------------------------------------------
 * Models
 */

typedef struct mlp_model mlp_model;

/* Weight layouts accepted by set/get: W as [in, out] (our notation, the
 * default) or [out, in] (PyTorch's nn.Linear.weight). */
typedef enum mlp_layout {
  MLP_LAYOUT_IN_OUT = 0,
  MLP_LAYOUT_OUT_IN = 1
} mlp_layout;

/*
 * Creates a model of n_layers layers on dtype. widths has n_layers + 1
 * entries: widths[0] is the input width, widths[k] the neurons of layer k;
 * acts[k-1] is f_k. Parameters start at zero. Leaky ReLU layers get the
 * default slope (see mlp_model_set_slope).
 *
 * storage is the layout in which weights are kept: MLP_LAYOUT_OUT_IN lets
 * weights trained in PyTorch be used without a transpose (the GEMM then
 * uses its transpose flag). It changes speed only, never results' meaning.
 *
 * On success *model owns the new model; free it with mlp_model_free.
 * Errors: MLP_ERR_NULL, MLP_ERR_ARG (0 layers, width 0), MLP_ERR_DTYPE,
 * MLP_ERR_ACTIVATION, MLP_ERR_OVERFLOW, MLP_ERR_NOMEM. On error *model is
 * set to NULL. Thread-safe.
 */
MLP_API int mlp_model_create(mlp_model **model, mlp_dtype dtype,
                             size_t n_layers, const size_t *widths,
                             const mlp_act *acts, mlp_layout storage);
/* Frees a model; NULL is a no-op. No context of it may be used after. */
MLP_API void mlp_model_free(mlp_model *model);
/* A deep copy of src (parameters included) into *copy. */
MLP_API int mlp_model_clone(const mlp_model *src, mlp_model **copy);

MLP_API mlp_dtype mlp_model_dtype(const mlp_model *model);
/* Number of layers N (0 for NULL). */
MLP_API size_t mlp_model_layers(const mlp_model *model);
/* widths[k] for k = 0..N (0 for k out of range or NULL). */
MLP_API size_t mlp_model_width(const mlp_model *model, size_t k);
/* f_k for k = 1..N (MLP_ACT_IDENTITY when out of range). */
MLP_API mlp_act mlp_model_act(const mlp_model *model, size_t k);
/* The slope of leaky ReLU layer k (the default for other layers). */
MLP_API double mlp_model_slope(const mlp_model *model, size_t k);
/* The layout weights are stored in. */
MLP_API mlp_layout mlp_model_storage(const mlp_model *model);
/* Number of parameters: sum over layers of in * out + out. */
MLP_API size_t mlp_model_param_count(const mlp_model *model);

/* Sets the slope a of leaky ReLU layer k (1..N); a must be finite.
 * MLP_ERR_ARG if layer k is not leaky_relu. */
MLP_API int mlp_model_set_slope(mlp_model *model, size_t k, double slope);

/*
 * Copies layer k's (1..N) weights from w, in_k * out_k elements of the
 * model's dtype laid out as `layout`, and its bias from b (out_k elements;
 * b may be NULL to leave the bias unchanged). Values must be finite
 * (MLP_ERR_NONFINITE names the first bad element). Not thread-safe with
 * passes on the same model.
 */
MLP_API int mlp_model_set_layer(mlp_model *model, size_t k, const void *w,
                                mlp_layout layout, const void *b);
/* Copies layer k's weights into w (in `layout`) and bias into b; either
 * may be NULL to skip it. */
MLP_API int mlp_model_get_layer(const mlp_model *model, size_t k, void *w,
                                mlp_layout layout, void *b);

/*
 * All parameters as one contiguous array of the model's dtype, in order
 * W_1, b_1, W_2, b_2, ..., each W in the storage layout. The array belongs
 * to the model; the mutable view is for optimisers and must not be used
 * while a pass runs. *count receives mlp_model_param_count.
 */
MLP_API const void *mlp_model_params(const mlp_model *model, size_t *count);
MLP_API void *mlp_model_params_mut(mlp_model *model, size_t *count);

typedef enum mlp_init {
  MLP_INIT_UNIFORM = 0,        /* W ~ U(-scale, scale) */
  MLP_INIT_NORMAL = 1,         /* W ~ N(0, scale^2) */
  MLP_INIT_XAVIER_UNIFORM = 2, /* U(-a, a), a = scale sqrt(6/(in+out)) */
  MLP_INIT_XAVIER_NORMAL = 3,  /* N(0, scale^2 2/(in+out)) */
  MLP_INIT_HE_UNIFORM = 4,     /* U(-a, a), a = scale sqrt(6/in) */
  MLP_INIT_HE_NORMAL = 5,      /* N(0, scale^2 2/in) */
  MLP_INIT_ORTHOGONAL = 6      /* scale Q, Q with orthonormal rows or
                                  columns, from the QR of a normal matrix */
} mlp_init;
/* "uniform", "normal", "xavier_uniform", "xavier_normal", "he_uniform",
 * "he_normal", "orthogonal" (also "xavier" and "he", the uniform forms). */
MLP_API const char *mlp_init_name(mlp_init init);
MLP_API int mlp_init_parse(const char *name, mlp_init *init);

/*
 * Draws every weight from `init` and sets every bias to zero, from a
 * generator seeded with `seed` (the same seed gives the same parameters on
 * every machine, up to the last bit of libm's log and cos). scale must be
 * finite and > 0 (1.0 for the textbook rules). Orthogonal uses LAPACKE's
 * QR. Errors: MLP_ERR_ARG, MLP_ERR_NOMEM, MLP_ERR_UNSUPPORTED (LAPACK
 * failure, reported with its info code).
 */
MLP_API int mlp_model_init(mlp_model *model, mlp_init init, uint64_t seed,
                           double scale);

/* ------------------------------------------------------------------------
 * Contexts and the forward pass
 */

typedef struct mlp_ctx mlp_ctx;

/* Context flags. */
#define MLP_CTX_KEEP                                                           \
  1u /* keep every layer's Z_k and Y_k of the last pass                        \
        (for inspection and the backward pass) */

/*
 * Bytes of workspace a context for `model` with at most max_batch rows
 * and `flags` needs (without the context's own small header). Returns 0
 * and sets the error for bad arguments or when the size overflows.
 * Without MLP_CTX_KEEP it is two activations of the widest layer per row;
 * with it, Z_k and Y_k of every layer.
 */
MLP_API size_t mlp_ctx_workspace_size(const mlp_model *model, size_t max_batch,
                                      unsigned flags);

/*
 * Creates the per-thread scratch state for passes of `model` with at most
 * max_batch rows per chunk. With workspace == NULL the library allocates
 * it; otherwise workspace must point to at least
 * mlp_ctx_workspace_size(model, max_batch, flags) bytes, 64-byte aligned,
 * which stay the caller's and must outlive the context.
 *
 * The context keeps a pointer to the model: the model must outlive it. A
 * context is used by one thread at a time. Errors: MLP_ERR_NULL,
 * MLP_ERR_BATCH (max_batch 0), MLP_ERR_ARG (unknown flags, workspace too
 * small or misaligned), MLP_ERR_OVERFLOW, MLP_ERR_NOMEM.
 */
MLP_API int mlp_ctx_create(mlp_ctx **ctx, const mlp_model *model,
                           size_t max_batch, unsigned flags, void *workspace,
                           size_t workspace_bytes);
MLP_API void mlp_ctx_free(mlp_ctx *ctx);
MLP_API size_t mlp_ctx_max_batch(const mlp_ctx *ctx);
MLP_API const mlp_model *mlp_ctx_model(const mlp_ctx *ctx);

/*
 * Runs this context's forward passes on `threads` threads: a chunk of
 * enough rows is split into blocks of rows, one per thread, and each
 * block runs every layer (its GEMM and its bias + activation) on its own
 * thread, so that the elementwise work is parallel too. The calling
 * thread takes the first block; the context starts threads - 1 worker
 * threads of its own, which wait (briefly spinning) between passes and
 * end in mlp_ctx_set_threads(ctx, 1) or mlp_ctx_free. A row block needs
 * at least 16 rows and about 2^20 multiply-adds. A chunk of at most 16
 * rows, or of fewer than 128 rows per thread when the weights exceed 16
 * MiB (so that each thread reads only its share of them), is split by
 * columns instead: each thread computes its share of every layer's
 * outputs, with a barrier between layers, given about 2^18 multiply-adds
 * per thread. Other chunks run on the calling thread alone.
 *
 * Each block calls the BLAS from its own thread: set the BLAS to one
 * thread (mlp_blas_set_threads(1)) or the blocks compete for the cores.
 * The workspace is the same (blocks use disjoint rows of it); results are
 * those of one thread up to the BLAS's rounding for a different row count.
 * threads is 1..64. Errors: MLP_ERR_NULL, MLP_ERR_ARG, MLP_ERR_NOMEM (a
 * thread could not be started; the context then keeps its old count).
 * Not thread-safe with a pass on the same context.
 */
MLP_API int mlp_ctx_set_threads(mlp_ctx *ctx, int threads);
/* The threads of mlp_ctx_set_threads (1 by default, 0 for NULL). */
MLP_API int mlp_ctx_threads(const mlp_ctx *ctx);

/*
 * The forward pass: y = Y_N for the batch x of `batch` rows (x is batch x
 * widths[0], y is batch x widths[N], both row-major in the model's dtype;
 * they must not overlap).
 *
 * A batch larger than the context's max_batch is processed in chunks of
 * max_batch rows, each chunk exactly as if passed alone; the context then
 * holds the last chunk's layers. Each row's output depends on that row
 * alone, but its last bits may depend on the number of rows passed
 * together: a single row goes through the BLAS's GEMV, and a few narrow
 * rows through the plain C kernels.
 *
 * Allocates nothing and does no I/O; with one thread it takes no lock
 * (mlp_ctx_set_threads: its workers meet at a barrier per pass). Inputs are not
 * scanned for NaN (that would cost a pass over x): NaN in x gives NaN in the
 * rows it touches. Errors: MLP_ERR_NULL, MLP_ERR_BATCH (batch 0),
 * MLP_ERR_CONTEXT (ctx made for another model). Thread-safe with other
 * passes on the same model through other contexts.
 */
MLP_API int mlp_forward(const mlp_model *model, mlp_ctx *ctx, const void *x,
                        size_t batch, void *y);

/*
 * Layer k (1..N) of the last pass, or its last chunk: *z = Z_k and *y =
 * Y_k, each rows x widths[k], owned by the context and valid until the
 * next pass. z or y may be NULL to skip. *rows gets the chunk's rows.
 * Without MLP_CTX_KEEP only the last layer is readable (MLP_ERR_STATE for
 * other k), and its *y is the caller's y of the last chunk: it stays valid
 * only as long as that buffer (mlp_ctx_loss with MSE reads it there).
 * MLP_ERR_STATE before the first pass.
 */
MLP_API int mlp_ctx_layer(const mlp_ctx *ctx, size_t k, const void **z,
                          const void **y, size_t *rows);

/* ------------------------------------------------------------------------
 * Losses and predictions on outputs
 *
 * Each takes `out` = the pre-activations (logits) Z_N for cross-entropy and
 * BCE, or the outputs Y_N for MSE, as batch x width of dtype. labels are
 * class indices (cross-entropy); targets are batch x width of dtype (MSE,
 * BCE). per_sample (optional, batch doubles) receives each divergence;
 * *mean the mean over the batch. Sums are accumulated in double.
 */

/* Mean cross-entropy from logits, finite even when a softmax probability
 * underflows. MLP_ERR_LABEL names the row of a label outside [0, width). */
MLP_API int mlp_loss_cross_entropy(mlp_dtype dtype, const void *logits,
                                   size_t batch, size_t width,
                                   const int32_t *labels, double *per_sample,
                                   double *mean);
MLP_API int mlp_loss_mse(mlp_dtype dtype, const void *y, size_t batch,
                         size_t width, const void *targets, double *per_sample,
                         double *mean);
/* Binary cross-entropy from logits; targets in [0, 1]. */
MLP_API int mlp_loss_bce(mlp_dtype dtype, const void *logits, size_t batch,
                         size_t width, const void *targets, double *per_sample,
                         double *mean);

/*
 * The loss of the last pass through ctx (its last chunk when it was
 * chunked), from the kept Z_N or Y_N as the loss requires. labels for
 * cross-entropy, targets for MSE and BCE (the other may be NULL).
 * MLP_ERR_LOSS when the last layer does not fit the loss: cross-entropy
 * needs softmax, BCE needs sigmoid; MSE takes any.
 */
MLP_API int mlp_ctx_loss(const mlp_ctx *ctx, mlp_loss loss,
                         const int32_t *labels, const void *targets,
                         double *per_sample, double *mean);

/* pred[i] = argmax_j y[i][j] (the first on ties; NaN never wins). */
MLP_API int mlp_argmax(mlp_dtype dtype, const void *y, size_t batch,
                       size_t width, int32_t *pred);
/* *accuracy = fraction of rows whose argmax equals labels[i]. */
MLP_API int mlp_accuracy(mlp_dtype dtype, const void *y, size_t batch,
                         size_t width, const int32_t *labels, double *accuracy);

/* ------------------------------------------------------------------------
 * Vector kernels
 *
 * Bias + activation and softmax run through one of these kernel sets,
 * chosen once from what the CPU and OS support (AVX-512 needs the OS to
 * save its registers, checked with XGETBV). The environment variable
 * MLP_KERNELS=reference|avx2|avx512 forces a set, read once at the first
 * call that needs the choice
 * (an unsupported or unknown value falls back to the automatic choice and
 * mlp_kernels_env_error() says why).
 */
typedef enum mlp_kernels {
  MLP_KERNELS_AUTO = 0,
  MLP_KERNELS_REFERENCE = 1, /* plain C, the definition of the results */
  MLP_KERNELS_AVX2 = 2,      /* AVX2 + FMA */
  MLP_KERNELS_AVX512 = 3     /* AVX-512 F/DQ/BW/VL */
} mlp_kernels;

/* The set new contexts use (never MLP_KERNELS_AUTO). Thread-safe. */
MLP_API mlp_kernels mlp_kernels_active(void);
/* "auto", "reference", "avx2", "avx512"; NULL when unknown. */
MLP_API const char *mlp_kernels_name(mlp_kernels set);
/* 1 when the CPU, the OS and this build support the set, else 0. */
MLP_API int mlp_kernels_supported(mlp_kernels set);
/* Chooses the set for contexts created from now on (AUTO: the best
 * supported). MLP_ERR_UNSUPPORTED when the set cannot run here. */
MLP_API int mlp_kernels_select(mlp_kernels set);
/* Switches one context's kernels (for tests and benchmarks). */
MLP_API int mlp_ctx_set_kernels(mlp_ctx *ctx, mlp_kernels set);
MLP_API mlp_kernels mlp_ctx_kernels(const mlp_ctx *ctx);
/* Why MLP_KERNELS was ignored, or NULL when it was honoured or unset. */
MLP_API const char *mlp_kernels_env_error(void);

/* ------------------------------------------------------------------------
 * BLAS
 */

typedef struct mlp_blas_info {
  const char *vendor;  /* "OpenBLAS", "BLIS", "MKL", or "CBLAS" */
  const char *version; /* vendor's version string, or "" */
  const char *config;  /* vendor's build configuration string, or "" */
  const char *core;    /* the kernel core in use (OpenBLAS), or "" */
  int threads;         /* threads the BLAS uses, or 0 if unknown */
  /* 1 when the BLAS runs a generic core that is much slower than one
   * the CPU supports (OpenBLAS 0.3.21 picks "Prescott" on CPUs it does
   * not know); suggested_core then names the fix: run with
   * OPENBLAS_CORETYPE=<suggested_core> in the environment. */
  int slow_core;
  const char *suggested_core; /* "" when there is nothing to suggest */
  const char *cpu;            /* the CPU's brand string, or "" */
} mlp_blas_info;

/* Fills *info; the strings are static and stay valid. Thread-safe. */
MLP_API int mlp_blas_info_get(mlp_blas_info *info);
/* Sets the BLAS thread count (>= 1). MLP_ERR_UNSUPPORTED when the BLAS
 * has no such call. Affects the whole process. */
MLP_API int mlp_blas_set_threads(int threads);

/* --- Model files (safetensors) ------------------------------------------ */

/*
 * A model file is a safetensors file: an 8-byte little-endian header
 * length n, n bytes of JSON naming each tensor's dtype, shape and byte
 * range, then the raw little-endian tensors. libmlp writes, for layers
 * k = 0..N-1 (layer k+1 of the notation above):
 *     layers.{k}.weight  [out, in]   (PyTorch's nn.Linear.weight layout)
 *     layers.{k}.bias    [out]
 * and the activations in __metadata__ as "activations": "relu,softmax"
 * (a leaky ReLU with a slope other than the default as "leaky_relu:0.2").
 * It reads those, and also any <prefix>.weight / <prefix>.bias pairs
 * ordered by the numbers in their prefix: the state_dict of a PyTorch
 * nn.Sequential ("0.weight", "0.bias", "2.weight", ...), whose
 * activations the caller then gives. Tensors may be F32, F64, F16 or
 * BF16 (the last two are converted on load). docs/formats-models.md has
 * the details and the Python that exports a PyTorch model.
 *
 * Loading never trusts the file: a header length beyond the file or over
 * 100 MB, invalid JSON, byte ranges out of the file, reversed, overlapping
 * or leaving holes, unknown dtypes, shapes that do not match their byte
 * ranges or overflow, layers that do not chain, a missing bias or weight,
 * unexpected tensors, and unknown or miscounted activations each fail
 * with a message naming the tensor or key. Statuses: MLP_ERR_IO
 * (open/read), MLP_ERR_FORMAT (the structure), MLP_ERR_DTYPE (unknown
 * dtype), MLP_ERR_OVERFLOW (a shape's size), MLP_ERR_SHAPE (weight/bias
 * shapes, layers that do not chain), MLP_ERR_ACTIVATION,
 * MLP_ERR_NONFINITE, MLP_ERR_NOMEM.
 */

/* mlp_load_options.flags: use opts->acts even when the file names
 * activations; accept NaN and infinite parameters (refused by default). */
#define MLP_LOAD_OVERRIDE_ACTS 1u
#define MLP_LOAD_ALLOW_NONFINITE 2u

/* Options of mlp_model_load; zero-initialise ({0}) for the defaults. */
typedef struct mlp_load_options {
  /* f_1..f_N, used when the file names no activations (or always with
   * MLP_LOAD_OVERRIDE_ACTS); n_acts must equal the file's layer count.
   * NULL: the file must name them. Leaky ReLU gets the default slope. */
  const mlp_act *acts;
  size_t n_acts;
  /* The model's dtype: 0 keeps the file's (MLP_F64 when any parameter
   * tensor is F64, else MLP_F32); MLP_F32 or MLP_F64 converts. */
  mlp_dtype dtype;
  /* Weight storage of the model, as in mlp_model_create. */
  mlp_layout storage;
  unsigned flags; /* MLP_LOAD_* */
} mlp_load_options;

/*
 * Loads the model file at path into a new model *model (free it with
 * mlp_model_free). opts may be NULL for the defaults. The file is mapped
 * (mmap) and copied once into the model; files that cannot be mapped
 * (pipes) are read. Non-finite parameters are refused with
 * MLP_ERR_NONFINITE naming the tensor and element, unless
 * MLP_LOAD_ALLOW_NONFINITE is set. On error *model is NULL.
 * Thread-safe. NOTE: the file must not be truncated while it loads (a
 * mapped page that vanishes raises SIGBUS).
 */
MLP_API int mlp_model_load(mlp_model **model, const char *path,
                           const mlp_load_options *opts);
/* The same from the size bytes at data (the whole file in memory). data
 * needs no alignment and is not kept. Never reads outside [data,
 * data + size), whatever the bytes. */
MLP_API int mlp_model_load_buffer(mlp_model **model, const void *data,
                                  size_t size, const mlp_load_options *opts);

/*
 * Writes model to path in the model's dtype (F32 or F64), atomically: to
 * a temporary file in the same directory, flushed with fsync, then
 * renamed over path; on any error the temporary file is removed and path
 * is untouched. Refuses (MLP_ERR_NONFINITE) a model with NaN or infinite
 * parameters, so that every file written loads with the defaults.
 * Errors: MLP_ERR_NULL, MLP_ERR_IO (with the system's reason),
 * MLP_ERR_NONFINITE, MLP_ERR_NOMEM. Thread-safe for distinct paths.
 */
MLP_API int mlp_model_save(const mlp_model *model, const char *path);
/*
 * Serialises model into buf, byte for byte what mlp_model_save writes.
 * *size always receives the file's size. With buf NULL only the size is
 * computed (MLP_OK); with capacity < *size nothing is written and
 * MLP_ERR_ARG is returned. Thread-safe.
 */
MLP_API int mlp_model_save_buffer(const mlp_model *model, void *buf,
                                  size_t capacity, size_t *size);

/* --- Datasets ------------------------------------------------------------ */

/*
 * Datasets are matrices of rows (samples) read from a file in batches,
 * converted to f32 or f64; files larger than memory are streamed, never
 * loaded whole. Supported: .npy (versions 1-3, C order, little or big
 * endian, u1 i1 i2 i4 i8 u2 u4 u8 f2 f4 f8 and bool), CSV (numbers only,
 * optional header row and label column) and IDX (MNIST's format), each
 * plain or gzip-compressed. A file of d dimensions [n, d1, ..., dk] gives
 * n rows of d1 * ... * dk columns (a 1-D file gives n rows of 1 column).
 * Errors name the file and where: byte offset, or line and column.
 * docs/formats-datasets.md has the details.
 */

typedef enum mlp_format {
  MLP_FORMAT_AUTO = 0, /* from the magic bytes, then the extension */
  MLP_FORMAT_NPY = 1,  /* NumPy .npy */
  MLP_FORMAT_CSV = 2,  /* comma (or other) separated numbers */
  MLP_FORMAT_IDX = 3   /* IDX (MNIST, Fashion-MNIST) */
} mlp_format;

/* "auto", "npy", "csv", "idx"; NULL for an unknown value. */
MLP_API const char *mlp_format_name(mlp_format format);
/* Parses a name above into *format; MLP_ERR_ARG when unknown. */
MLP_API int mlp_format_parse(const char *name, mlp_format *format);

/* CSV header row handling. */
typedef enum mlp_csv_header {
  MLP_CSV_HEADER_AUTO = 0, /* a header when a field of line 1 is text */
  MLP_CSV_HEADER_YES = 1,  /* the first line is a header */
  MLP_CSV_HEADER_NO = 2    /* every line is data */
} mlp_csv_header;

#define MLP_CSV_NO_LABEL (-1)   /* csv_label_column: no label column */
#define MLP_CSV_LABEL_LAST (-2) /* csv_label_column: the last column */

typedef struct mlp_dataset_options {
  mlp_format format; /* MLP_FORMAT_AUTO */
  mlp_dtype dtype;   /* MLP_F32: the type mlp_dataset_read writes */
  /* Factor applied to integer .npy/IDX data (u8 pixels: 1.0 / 255) and to
   * every CSV value; float .npy/IDX data is never scaled. 1.0 by default.
   * Must be finite. */
  double scale;
  mlp_csv_header csv_header; /* MLP_CSV_HEADER_AUTO */
  /* The 0-based column split off as int32 labels, MLP_CSV_LABEL_LAST or
   * MLP_CSV_NO_LABEL (the default). */
  long csv_label_column;
  /* Field separator; 0 (default): tab for .tsv, else the first of ',' '\t'
   * ';' found on line 1, else ','. */
  char csv_delimiter;
} mlp_dataset_options;

/* Fills *options with the defaults above. Call it before setting fields:
 * later versions may add fields at the end. */
MLP_API void mlp_dataset_options_init(mlp_dataset_options *options);

typedef struct mlp_dataset mlp_dataset;

/*
 * Opens the dataset at path (options NULL: the defaults) and reads its
 * header: afterwards rows, cols and shape are known and the read position
 * is row 0. gzip is detected from the magic bytes (any format may be
 * compressed). Plain .npy and IDX are mapped with mmap; gzip and CSV are
 * streamed. A CSV file is scanned once at open to count rows and check
 * every line's field count (its fields are checked as they are read).
 *
 * On success *ds owns the open file; close it with mlp_dataset_close.
 * Errors: MLP_ERR_NULL, MLP_ERR_ARG (bad options), MLP_ERR_IO (open, read,
 * mmap failed, with errno's text), MLP_ERR_FORMAT (malformed or
 * unsupported contents: the message names the file and the byte offset or
 * line and column), MLP_ERR_OVERFLOW (sizes beyond size_t), MLP_ERR_NOMEM.
 * On error *ds is NULL. Thread-safe (one handle per thread afterwards).
 * NOTE: a mapped file that another process truncates while open can make
 * later reads fault (SIGBUS); do not rewrite a file being read.
 */
MLP_API int mlp_dataset_open(mlp_dataset **ds, const char *path,
                             const mlp_dataset_options *options);
/* Closes the file and frees the handle; NULL is a no-op. */
MLP_API void mlp_dataset_close(mlp_dataset *ds);

/* Number of rows n (0 for NULL). */
MLP_API size_t mlp_dataset_rows(const mlp_dataset *ds);
/* Values per row read into x: the trailing dimensions multiplied, without
 * the CSV label column (0 for NULL). */
MLP_API size_t mlp_dataset_cols(const mlp_dataset *ds);
/* The file's dimensions: writes up to max_dims of them to dims (which may
 * be NULL) and returns their number (1 to 32; 2 for CSV: rows, fields
 * without the label). */
MLP_API size_t mlp_dataset_shape(const mlp_dataset *ds, size_t *dims,
                                 size_t max_dims);
/* The format actually read (never AUTO). */
MLP_API mlp_format mlp_dataset_format(const mlp_dataset *ds);
/* The stored element type: "u8", "i8", "i16", "i32", "i64", "u16", "u32",
 * "u64", "f16", "f32", "f64", "bool" ("f64" for CSV). Static string. */
MLP_API const char *mlp_dataset_source_type(const mlp_dataset *ds);
/* 1 when reads produce labels (a CSV label column), else 0. */
MLP_API int mlp_dataset_has_labels(const mlp_dataset *ds);
/* The row the next read starts at. */
MLP_API size_t mlp_dataset_tell(const mlp_dataset *ds);

/*
 * Reads the next rows: min(max_rows, rows left) of them. x receives
 * rows x cols values of the options' dtype, row-major (integer data times
 * the scale); labels (when the dataset has a label column) one int32 per
 * row. x or labels may be NULL to skip them. *rows_read gets the count; 0
 * means the end of the dataset (not an error).
 *
 * Errors: MLP_ERR_NULL (ds or rows_read), MLP_ERR_BATCH (max_rows 0),
 * MLP_ERR_IO, MLP_ERR_FORMAT (a bad CSV field or truncated gzip data,
 * named by line and column or byte offset), MLP_ERR_LABEL (a label that
 * is no integer in [0, 2^31)). After an error the position is undefined:
 * rewind or seek before reading again. Not thread-safe on one handle.
 */
MLP_API int mlp_dataset_read(mlp_dataset *ds, void *x, size_t max_rows,
                             int32_t *labels, size_t *rows_read);

/*
 * Reads the next values of a label file as int32 class indices: a file
 * with one value per row (cols == 1: IDX labels, a 1-D .npy vector, a
 * one-column CSV). Values must be integers in [0, 2^31) (float files too:
 * 3.0 is 3, 3.5 is an error); the scale is not applied. *rows_read gets
 * the count, 0 at the end. Errors as mlp_dataset_read; MLP_ERR_SHAPE when
 * cols != 1, MLP_ERR_LABEL for a value that is no class index (its row is
 * named).
 */
MLP_API int mlp_dataset_read_labels(mlp_dataset *ds, int32_t *labels,
                                    size_t max_rows, size_t *rows_read);

/* Moves the read position to row 0. */
MLP_API int mlp_dataset_rewind(mlp_dataset *ds);
/*
 * Moves the read position to `row` (0..rows; rows means the end). Instant
 * for plain .npy and IDX; CSV jumps to a checkpoint taken at open every
 * 1024 rows and parses forward; gzip decompresses forward from the start
 * or the current position (slow for large backward jumps). MLP_ERR_ARG
 * for row > rows.
 */
MLP_API int mlp_dataset_seek(mlp_dataset *ds, size_t row);

/*
 * Output files. A writer appends rows of `cols` values of `dtype` to a
 * temporary file in the destination's directory; mlp_writer_commit
 * flushes it, fsyncs it and renames it to path, so path holds either its
 * old contents or the complete new file, never a partial one.
 * .npy output is version 1.0, little-endian '<f4' or '<f8', shape
 * (rows, cols) (or (rows,) when opened with cols == 1 and
 * MLP_WRITER_VECTOR); CSV output has no header and prints each value with
 * enough digits to read back the same value (%.9g for f32, %.17g f64).
 */
typedef struct mlp_writer mlp_writer;

/* Writer flags. */
#define MLP_WRITER_VECTOR 1u /* .npy: 1-D shape (rows,); needs cols == 1 */

/*
 * Creates the temporary file "<path>.tmp-<pid>-<n>" (permissions 0666
 * less the umask). format: MLP_FORMAT_NPY, MLP_FORMAT_CSV, or
 * MLP_FORMAT_AUTO (".npy" gives npy; ".csv", ".tsv" (tab-separated) and
 * ".txt" give CSV; other extensions are MLP_ERR_ARG). IDX and gzip
 * output are not supported (a path ending in ".gz" is MLP_ERR_ARG). On success
 * *w owns the writer, which must end with exactly one mlp_writer_commit or
 * mlp_writer_abort. Errors: MLP_ERR_NULL, MLP_ERR_ARG, MLP_ERR_DTYPE,
 * MLP_ERR_IO, MLP_ERR_NOMEM. Thread-safe (one writer per thread afterwards).
 */
MLP_API int mlp_writer_open(mlp_writer **w, const char *path, mlp_dtype dtype,
                            size_t cols, mlp_format format, unsigned flags);
/* Appends rows x cols values (row-major, the writer's dtype). Errors:
 * MLP_ERR_NULL, MLP_ERR_IO (disk full...), MLP_ERR_OVERFLOW. After an
 * error only mlp_writer_abort is useful. */
MLP_API int mlp_writer_append(mlp_writer *w, const void *data, size_t rows);
/* Rows appended so far. */
MLP_API size_t mlp_writer_rows(const mlp_writer *w);
/*
 * Finishes the file (the .npy header gets the final row count), fsyncs
 * it, renames it to the path given at open, fsyncs the directory and
 * frees the writer. On failure the temporary file is removed, path is
 * untouched, and the writer is freed as well. Returns MLP_OK or
 * MLP_ERR_IO.
 */
MLP_API int mlp_writer_commit(mlp_writer *w);
/* Removes the temporary file and frees the writer; NULL is a no-op. */
MLP_API void mlp_writer_abort(mlp_writer *w);
/*
 * The temporary file's path, owned by the writer. A signal handler may
 * pass it to unlink(2) (async-signal-safe) when the program is stopped
 * mid-write; nothing else in the writer is safe to call from a handler.
 */
MLP_API const char *mlp_writer_temp_path(const mlp_writer *w);

/* --- Training ------------------------------------------------------------ */

/*
 * Gradients of the mean loss of one batch, in the notation above: with
 * dZ_k = dLoss/dZ_k (B x widths[k]),
 *
 *     dW_k = Y_{k-1}^T dZ_k,   db_k = sum over rows of dZ_k,
 *     dY_{k-1} = dZ_k W_k^T,   dZ_{k-1} = dY_{k-1} * f_{k-1}'(Z_{k-1})
 *
 * and dZ_N from the loss: softmax + cross-entropy (P - onehot(c)) / B,
 * sigmoid + BCE (S - D) / (B C), MSE 2 (Y_N - D) / (B C) through f_N'.
 *
 * A mlp_grad holds dW_1, db_1, ..., dW_N, db_N as one contiguous array in
 * exactly the layout of mlp_model_params (each dW in the model's storage
 * layout), plus the scratch of the backward pass, sized once for a maximum
 * batch so that mlp_backward allocates nothing.
 */
typedef struct mlp_grad mlp_grad;

/*
 * Creates gradient storage for `model` and batches of at most max_batch
 * rows. Gradients start at zero. The grad keeps no pointer to the model
 * but may only be used with models of the same shape and dtype. Errors:
 * MLP_ERR_NULL, MLP_ERR_BATCH (max_batch 0), MLP_ERR_OVERFLOW,
 * MLP_ERR_NOMEM. Thread-safe; a grad is used by one thread at a time.
 */
MLP_API int mlp_grad_create(mlp_grad **grad, const mlp_model *model,
                            size_t max_batch);
MLP_API void mlp_grad_free(mlp_grad *grad);
/* The gradients, mlp_model_param_count elements of the model's dtype in
 * the layout of mlp_model_params; owned by grad. The mutable view lets a
 * caller clip or scale them before an optimiser step. */
MLP_API const void *mlp_grad_params(const mlp_grad *grad, size_t *count);
MLP_API void *mlp_grad_params_mut(mlp_grad *grad, size_t *count);

/*
 * The backward pass: grad = the gradient of the mean loss of the last
 * forward pass through ctx, with respect to every W_k and b_k of model.
 * ctx must have been created with MLP_CTX_KEEP and its last mlp_forward
 * must have run on x (batch rows, at most the context's max_batch and the
 * grad's max_batch). x may be NULL: the x of that pass is then read again
 * and must still be valid and unchanged.
 * labels (cross-entropy: one class per row) or targets (MSE, BCE: batch x
 * widths[N] of dtype) describe the wanted outputs; the other may be NULL.
 * Cross-entropy needs a softmax last layer, BCE a sigmoid one.
 *
 * Overwrites the gradients (no accumulation). Allocates nothing. Errors:
 * MLP_ERR_NULL, MLP_ERR_CONTEXT, MLP_ERR_STATE (no pass, no MLP_CTX_KEEP,
 * batch differs from the pass), MLP_ERR_BATCH, MLP_ERR_SHAPE (grad of
 * another shape), MLP_ERR_LOSS, MLP_ERR_LABEL. Not thread-safe on grad.
 */
MLP_API int mlp_backward(const mlp_model *model, const mlp_ctx *ctx,
                         const void *x, size_t batch, mlp_loss loss,
                         const int32_t *labels, const void *targets,
                         mlp_grad *grad);

/*
 * Optimisers. For each parameter w with gradient g at step t = 1, 2, ...
 * and learning rate lr_t (from the schedule below):
 *   SGD       w -= lr_t g
 *   MOMENTUM  v = mu v + g;  w -= lr_t v
 *   NESTEROV  v = mu v + g;  w -= lr_t (g + mu v)
 *   ADAM      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *             w -= lr_t (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 *   ADAMW     Adam with decoupled decay: w -= lr_t wd w before the step
 * Weight decay wd (L2, applied to weights only, never to biases) adds
 * wd w to g before the rules above (except ADAMW, see there). State
 * (v, m) starts at zero. These match PyTorch's SGD (dampening 0), Adam and
 * AdamW when their weight decay is restricted to the weights.
 */
typedef enum mlp_optim_kind {
  MLP_OPTIM_SGD = 0,
  MLP_OPTIM_MOMENTUM = 1,
  MLP_OPTIM_NESTEROV = 2,
  MLP_OPTIM_ADAM = 3,
  MLP_OPTIM_ADAMW = 4
} mlp_optim_kind;
/* "sgd", "momentum", "nesterov", "adam", "adamw"; NULL when unknown. */
MLP_API const char *mlp_optim_name(mlp_optim_kind kind);
/* Parses a name above into *kind; MLP_ERR_ARG when unknown. */
MLP_API int mlp_optim_parse(const char *name, mlp_optim_kind *kind);

/*
 * Learning-rate schedules, as a function of the step t = 0, 1, ... (the
 * number of updates already made):
 *   CONSTANT  lr_t = lr
 *   STEP      lr_t = lr gamma^floor(t / step_size)
 *   COSINE    lr_t = lr_min + (lr - lr_min) (1 + cos(pi t / total)) / 2
 *             for t < total, lr_min after
 * and with warmup > 0, lr_t is further scaled by (t + 1) / warmup for
 * t < warmup.
 */
typedef enum mlp_schedule {
  MLP_SCHEDULE_CONSTANT = 0,
  MLP_SCHEDULE_STEP = 1,
  MLP_SCHEDULE_COSINE = 2
} mlp_schedule;
/* "constant", "step", "cosine"; NULL when unknown. */
MLP_API const char *mlp_schedule_name(mlp_schedule schedule);
MLP_API int mlp_schedule_parse(const char *name, mlp_schedule *schedule);

typedef struct mlp_optim_config {
  mlp_optim_kind kind;
  double lr;           /* > 0 */
  double momentum;     /* mu of MOMENTUM and NESTEROV, in [0, 1) */
  double beta1, beta2; /* Adam, in [0, 1) */
  double eps;          /* Adam, > 0 */
  double weight_decay; /* >= 0 */
  mlp_schedule schedule;
  uint64_t step_size; /* STEP: steps between decays, > 0 */
  double gamma;       /* STEP: factor per decay, in (0, 1] */
  uint64_t total;     /* COSINE: steps of the decay, > 0 */
  double lr_min;      /* COSINE: final rate, in [0, lr] */
  uint64_t warmup;    /* linear warmup steps, 0 for none */
} mlp_optim_config;

/* Fills *config with defaults for kind: lr 0.01 (Adam: 0.001), momentum
 * 0.9, beta1 0.9, beta2 0.999, eps 1e-8, no decay, constant schedule
 * (step_size 1, gamma 0.1, total 1, lr_min 0, warmup 0). */
MLP_API void mlp_optim_config_default(mlp_optim_config *config,
                                      mlp_optim_kind kind);
/* lr_t of config's schedule at step t (see mlp_schedule). */
MLP_API double mlp_schedule_lr(const mlp_optim_config *config, uint64_t t);

typedef struct mlp_optim mlp_optim;

/*
 * Creates an optimiser for `model`'s parameters with its state (zeroed).
 * config is copied and validated (MLP_ERR_ARG names the bad field).
 * Errors: MLP_ERR_NULL, MLP_ERR_ARG, MLP_ERR_NOMEM. Thread-safe.
 */
MLP_API int mlp_optim_create(mlp_optim **optim, const mlp_model *model,
                             const mlp_optim_config *config);
MLP_API void mlp_optim_free(mlp_optim *optim);
/*
 * One update of model's parameters from grad, with lr_t of the schedule
 * at the optimiser's step count t, which it then increments. Allocates
 * nothing. Must not overlap passes on model. Errors: MLP_ERR_NULL,
 * MLP_ERR_SHAPE (model or grad of another shape than the optimiser's).
 */
MLP_API int mlp_optim_step(mlp_optim *optim, mlp_model *model,
                           const mlp_grad *grad);
/* Updates made so far, and the learning rate the next one will use. */
MLP_API uint64_t mlp_optim_steps(const mlp_optim *optim);
MLP_API double mlp_optim_lr(const mlp_optim *optim);
/* Clears the state (v, m) and the step count. */
MLP_API void mlp_optim_reset(mlp_optim *optim);

/*
 * A trainer: mini-batch gradient descent on an in-memory dataset. Each
 * epoch draws a permutation of the training rows from a generator seeded
 * by (seed, epoch) (Fisher-Yates), cuts it into batches of batch_size rows
 * (the last may be shorter), and for each batch runs forward, backward and
 * one optimiser step. The same seed, data and settings give the same model
 * bit for bit on the same machine, BLAS and thread count.
 */
typedef struct mlp_train_data {
  const void *x;         /* rows x widths[0] of the model's dtype */
  const int32_t *labels; /* rows classes (cross-entropy), or NULL */
  const void *targets;   /* rows x widths[N] (MSE, BCE), or NULL */
  size_t rows;
} mlp_train_data;

/* What the trainer reports after each step and each epoch. Losses are
 * means over the rows seen; accuracies are argmax accuracies (NaN when the
 * loss has no labels); val_* are NaN without validation data. */
typedef struct mlp_train_stats {
  uint64_t epoch;    /* 1-based */
  uint64_t step;     /* optimiser steps so far */
  size_t rows_done;  /* training rows of this epoch done so far */
  size_t rows_total; /* training rows per epoch */
  double lr;         /* rate of the last step */
  double batch_loss; /* loss of the last batch (before its update) */
  double train_loss; /* running mean over the epoch so far */
  double train_accuracy;
  double val_loss; /* epoch end only */
  double val_accuracy;
  double seconds;      /* wall time of the epoch so far */
  int improved;        /* epoch end: best validation loss so far (or
                          training loss without validation data) */
  uint64_t best_epoch; /* epoch of the best loss so far */
  double best_loss;
  int stopping; /* epoch end: early stopping ends the run here */
} mlp_train_stats;

/* Return 0 to continue, nonzero to stop the run (the trainer then stops
 * after the current step with MLP_ERR_INTERRUPTED). */
typedef int (*mlp_train_fn)(const mlp_train_stats *stats, void *user);

typedef struct mlp_train_config {
  mlp_loss loss;
  size_t batch_size; /* > 0 */
  uint64_t epochs;   /* > 0 */
  uint64_t seed;
  mlp_optim_config optim; /* for COSINE with total 0 the trainer uses
                             epochs * steps per epoch */
  uint64_t patience;      /* early stopping: stop after this many epochs
                             without improvement; 0 never stops early */
  double min_delta;       /* an improvement must beat the best by this */
  int restore_best;       /* nonzero: on return the model holds the
                             parameters of the best epoch */
  mlp_train_fn on_step;   /* after every step, or NULL */
  mlp_train_fn on_epoch;  /* after every epoch, or NULL */
  void *user;
} mlp_train_config;

/* Defaults: cross-entropy, batch 128, 10 epochs, seed 0, Adam defaults, no
 * early stopping, restore_best 0, no callbacks. */
MLP_API void mlp_train_config_default(mlp_train_config *config);

typedef struct mlp_trainer mlp_trainer;

/*
 * Creates a trainer of `model` (which must outlive it) with all its memory:
 * a KEEP context, gradients, optimiser state, a batch buffer, the
 * permutation (rows_max entries: the largest training set it will see)
 * and a copy of the best parameters when restore_best is set. Errors:
 * MLP_ERR_NULL, MLP_ERR_ARG, MLP_ERR_LOSS, MLP_ERR_NOMEM.
 */
MLP_API int mlp_trainer_create(mlp_trainer **trainer, mlp_model *model,
                               const mlp_train_config *config, size_t rows_max);
MLP_API void mlp_trainer_free(mlp_trainer *trainer);

/*
 * Trains for config->epochs epochs (or until early stopping) on train,
 * evaluating on val after each epoch when val is not NULL, calling the
 * callbacks. Can be called again to continue (epochs count on). *final
 * (optional) gets the last epoch's stats. Errors: those of the parts,
 * MLP_ERR_ARG (train->rows 0 or above rows_max), MLP_ERR_NONFINITE (the
 * loss became NaN or infinite), MLP_ERR_INTERRUPTED (a callback asked to
 * stop; the model is then as after the last step, or the best one when
 * restore_best is set).
 */
MLP_API int mlp_trainer_fit(mlp_trainer *trainer, const mlp_train_data *train,
                            const mlp_train_data *val, mlp_train_stats *final);

/*
 * Mean loss and accuracy of the model on data, by forward passes of
 * batch_size rows (accuracy NaN without labels). Allocates nothing.
 */
MLP_API int mlp_trainer_evaluate(mlp_trainer *trainer,
                                 const mlp_train_data *data, double *loss,
                                 double *accuracy);

#ifdef __cplusplus
}
#endif

#endif /* MLP_H */
