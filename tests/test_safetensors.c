/*
 * test_safetensors.c - model files: round trips in f32 and f64, the
 * convention names and nn.Sequential names, F16/BF16 conversion, the
 * NaN/Inf policy, atomic saves, the malformed corpus of
 * tests/data/models/malformed (each file with its status and message),
 * and injected allocation failures.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mlp.h>

#ifndef MLP_TEST_DATA
#define MLP_TEST_DATA "tests/data"
#endif

/* ------------------------------------------------------------------------
 * Helpers
 */

/* A model 5 -> 7 -> 3 -> 2 of dtype, He-initialised with random biases. */
static mlp_model *make_model(mlp_dtype dtype, mlp_layout storage) {
  size_t widths[] = {5, 7, 3, 2};
  mlp_act acts[] = {MLP_ACT_LEAKY_RELU, MLP_ACT_TANH, MLP_ACT_SOFTMAX};
  mlp_model *m = NULL;
  size_t n;
  ck_assert_int_eq(mlp_model_create(&m, dtype, 3, widths, acts, storage),
                   MLP_OK);
  ck_assert_int_eq(mlp_model_set_slope(m, 1, 0.25), MLP_OK);
  ck_assert_int_eq(mlp_model_init(m, MLP_INIT_HE_NORMAL, 7, 1.0), MLP_OK);
  /* Non-zero biases, so that a swapped bias would show. */
  void *p = mlp_model_params_mut(m, &n);
  for (size_t k = 1, off = 0; k <= 3; k++) {
    off += widths[k - 1] * widths[k];
    for (size_t j = 0; j < widths[k]; j++, off++) {
      if (dtype == MLP_F32)
        ((float *)p)[off] = 0.5f + (float)j;
      else
        ((double *)p)[off] = 0.5 + (double)j;
    }
  }
  return m;
}

/* Layer k of both models, in [out, in] layout, bit for bit. */
static void assert_same_model(const mlp_model *a, const mlp_model *b) {
  size_t n = mlp_model_layers(a);
  ck_assert_uint_eq(mlp_model_layers(b), n);
  ck_assert_int_eq(mlp_model_dtype(a), mlp_model_dtype(b));
  for (size_t k = 0; k <= n; k++)
    ck_assert_uint_eq(mlp_model_width(a, k), mlp_model_width(b, k));
  for (size_t k = 1; k <= n; k++) {
    size_t in = mlp_model_width(a, k - 1), out = mlp_model_width(a, k);
    size_t elem = mlp_dtype_size(mlp_model_dtype(a));
    unsigned char *wa = malloc(in * out * elem), *wb = malloc(in * out * elem);
    unsigned char *ba = malloc(out * elem), *bb = malloc(out * elem);
    ck_assert_int_eq(mlp_model_act(a, k), mlp_model_act(b, k));
    ck_assert_double_eq(mlp_model_slope(a, k), mlp_model_slope(b, k));
    ck_assert_int_eq(mlp_model_get_layer(a, k, wa, MLP_LAYOUT_OUT_IN, ba),
                     MLP_OK);
    ck_assert_int_eq(mlp_model_get_layer(b, k, wb, MLP_LAYOUT_OUT_IN, bb),
                     MLP_OK);
    ck_assert_msg(memcmp(wa, wb, in * out * elem) == 0,
                  "layer %zu weights differ", k);
    ck_assert_msg(memcmp(ba, bb, out * elem) == 0, "layer %zu biases differ",
                  k);
    free(wa);
    free(wb);
    free(ba);
    free(bb);
  }
}

/* Builds a safetensors file in memory from a JSON header and data. */
static unsigned char *build(const char *json, const void *data,
                            size_t data_size, size_t *size) {
  size_t n = strlen(json);
  unsigned char *buf = malloc(8 + n + data_size + 1);
  for (int i = 0; i < 8; i++)
    buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
  memcpy(buf + 8, json, n);
  if (data_size)
    memcpy(buf + 8 + n, data, data_size);
  *size = 8 + n + data_size;
  return buf;
}

static char tmpdir[256];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mlp-test-st-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Number of entries in tmpdir (without . and ..). */
static int count_files(void) {
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  int n = 0;
  ck_assert_ptr_nonnull(d);
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

static void remove_tmpdir(void) {
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  char path[512];
  while (d && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
    unlink(path);
  }
  if (d)
    closedir(d);
  rmdir(tmpdir);
}

/* ------------------------------------------------------------------------
 * Round trips
 */

START_TEST(round_trip_buffer) {
  mlp_dtype dtype = _i % 2 ? MLP_F64 : MLP_F32;
  mlp_layout storage = _i / 2 ? MLP_LAYOUT_OUT_IN : MLP_LAYOUT_IN_OUT;
  mlp_model *m = make_model(dtype, storage), *l = NULL;
  size_t size = 0, size2 = 0;
  unsigned char *buf;

  ck_assert_int_eq(mlp_model_save_buffer(m, NULL, 0, &size), MLP_OK);
  buf = malloc(size);
  ck_assert_int_eq(mlp_model_save_buffer(m, buf, size - 1, &size2),
                   MLP_ERR_ARG);
  ck_assert_int_eq(mlp_model_save_buffer(m, buf, size, &size2), MLP_OK);
  ck_assert_uint_eq(size, size2);
  ck_assert_uint_eq((8 + buf[0] + 256u * buf[1]) % 8, 0); /* aligned data */
  ck_assert_int_eq(mlp_model_load_buffer(&l, buf, size, NULL), MLP_OK);
  assert_same_model(m, l);
  ck_assert_int_eq(mlp_model_slope(l, 1), 0.25);
  ck_assert_int_eq(mlp_model_storage(l), MLP_LAYOUT_IN_OUT);
  mlp_model_free(l);

  /* The other storage, and the other dtype by conversion. */
  {
    mlp_load_options o = {0};
    o.storage = MLP_LAYOUT_OUT_IN;
    ck_assert_int_eq(mlp_model_load_buffer(&l, buf, size, &o), MLP_OK);
    ck_assert_int_eq(mlp_model_storage(l), MLP_LAYOUT_OUT_IN);
    assert_same_model(m, l);
    mlp_model_free(l);
    o.dtype = dtype == MLP_F32 ? MLP_F64 : MLP_F32;
    ck_assert_int_eq(mlp_model_load_buffer(&l, buf, size, &o), MLP_OK);
    ck_assert_int_eq(mlp_model_dtype(l), o.dtype);
    ck_assert_uint_eq(mlp_model_param_count(l), mlp_model_param_count(m));
    mlp_model_free(l);
  }
  free(buf);
  mlp_model_free(m);
}
END_TEST

START_TEST(round_trip_file) {
  mlp_model *m = make_model(MLP_F64, MLP_LAYOUT_IN_OUT), *l = NULL;
  char path[512];
  struct stat st;
  make_tmpdir();
  snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
  ck_assert_int_eq(mlp_model_save(m, path), MLP_OK);
  ck_assert_int_eq(count_files(), 1); /* no temporary left */
  ck_assert_int_eq(mlp_model_load(&l, path, NULL), MLP_OK);
  assert_same_model(m, l);
  mlp_model_free(l);

  /* Saving over an existing file replaces it whole. */
  ck_assert_int_eq(stat(path, &st), 0);
  mlp_model_free(m);
  m = make_model(MLP_F32, MLP_LAYOUT_IN_OUT);
  ck_assert_int_eq(mlp_model_save(m, path), MLP_OK);
  ck_assert_int_eq(mlp_model_load(&l, path, NULL), MLP_OK);
  assert_same_model(m, l);
  ck_assert_int_eq(count_files(), 1);
  mlp_model_free(l);

  /* A directory that does not exist: MLP_ERR_IO, nothing left behind. */
  snprintf(path, sizeof path, "%s/missing/model.safetensors", tmpdir);
  ck_assert_int_eq(mlp_model_save(m, path), MLP_ERR_IO);
  ck_assert_ptr_nonnull(strstr(mlp_last_error(), "missing/model"));
  ck_assert_int_eq(mlp_model_load(&l, path, NULL), MLP_ERR_IO);
  ck_assert_ptr_null(l);
  ck_assert_int_eq(count_files(), 1);
  mlp_model_free(m);
  remove_tmpdir();
}
END_TEST

/* A header longer than 100 MB is refused before it is parsed (a sparse
 * file of 101 MB costs no disk). */
START_TEST(header_limit) {
  char path[512];
  unsigned char len8[8] = {0x01, 0x00, 0x40, 0x06, 0, 0, 0, 0};
  mlp_model *m = NULL;
  FILE *f;
  make_tmpdir();
  snprintf(path, sizeof path, "%s/huge.safetensors", tmpdir);
  f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(len8, 1, 8, f), 8); /* 100 MB + 1 */
  ck_assert_int_eq(ftruncate(fileno(f), 101 << 20), 0);
  fclose(f);
  ck_assert_int_eq(mlp_model_load(&m, path, NULL), MLP_ERR_FORMAT);
  ck_assert_ptr_nonnull(
      strstr(mlp_last_error(), "header length 104857601 exceeds the limit"));
  remove_tmpdir();
}
END_TEST

/* A model with NaN is refused by save, and nothing is written. */
START_TEST(save_refuses_nonfinite) {
  mlp_model *m = make_model(MLP_F32, MLP_LAYOUT_IN_OUT);
  char path[512];
  size_t n, size;
  float *p = mlp_model_params_mut(m, &n);
  p[3] = NAN;
  make_tmpdir();
  snprintf(path, sizeof path, "%s/nan.safetensors", tmpdir);
  ck_assert_int_eq(mlp_model_save(m, path), MLP_ERR_NONFINITE);
  ck_assert_ptr_nonnull(strstr(mlp_last_error(), "layer 1 weight"));
  ck_assert_int_eq(count_files(), 0);
  ck_assert_int_eq(mlp_model_save_buffer(m, NULL, 0, &size), MLP_OK);
  mlp_model_free(m);
  remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------------------------
 * Names
 */

static const float seq_data[] = {
    /* 0.weight [3, 2] */ 1, 2,     3, 4, 5, 6,
    /* 0.bias [3] */ 0.5f,   -0.5f, 1,
    /* 2.weight [1, 3] */ 1, -1,    2,
    /* 2.bias [1] */ 0.25f};

/* The state_dict of nn.Sequential(Linear(2,3), ReLU(), Linear(3,1)), keys
 * in an order unlike the layers'. */
static const char seq_json[] =
    "{\"2.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[60,64]},"
    "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
    "\"2.weight\":{\"dtype\":\"F32\",\"shape\":[1,3],\"data_offsets\":"
    "[48,60]},"
    "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]},"
    "\"pad\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[36,48]}}";

START_TEST(sequential_names) {
  /* "pad" is an unexpected tensor: first check it is refused... */
  size_t size;
  float data[16];
  unsigned char *buf;
  mlp_model *m = NULL;
  mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_IDENTITY};
  mlp_load_options o = {0};
  float w[6], b[3], y[1], x[2] = {1, -1};
  mlp_ctx *ctx = NULL;

  memcpy(data, seq_data, 9 * sizeof(float));
  memset(data + 9, 0, 3 * sizeof(float));
  memcpy(data + 12, seq_data + 9, 4 * sizeof(float));
  buf = build(seq_json, data, sizeof data, &size);
  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, NULL), MLP_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(mlp_last_error(), "unexpected tensor 'pad'"));
  free(buf);

  /* ...then the same without it (the hole moved to the end). */
  {
    char json[sizeof seq_json];
    char *cut;
    strcpy(json, seq_json);
    cut = strstr(json, ",\"pad\"");
    strcpy(cut, "}");
    /* Move 2.* down by 12 bytes: rewrite the offsets. */
    cut = strstr(json, "[60,64]");
    memcpy(cut, "[48,52]", 7);
    cut = strstr(json, "[48,60]");
    memcpy(cut, "[36,48]", 7);
    buf = build(json, seq_data, sizeof seq_data, &size);
  }
  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, NULL),
                   MLP_ERR_ACTIVATION);
  ck_assert_ptr_nonnull(strstr(mlp_last_error(), "names no activations"));
  o.acts = acts;
  o.n_acts = 1;
  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, &o),
                   MLP_ERR_ACTIVATION);
  o.n_acts = 2;
  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, &o), MLP_OK);
  ck_assert_uint_eq(mlp_model_layers(m), 2);
  ck_assert_uint_eq(mlp_model_width(m, 0), 2);
  ck_assert_uint_eq(mlp_model_width(m, 1), 3);
  ck_assert_uint_eq(mlp_model_width(m, 2), 1);
  ck_assert_int_eq(mlp_model_get_layer(m, 1, w, MLP_LAYOUT_OUT_IN, b), MLP_OK);
  ck_assert_float_eq(w[1], 2);
  ck_assert_float_eq(w[4], 5);
  ck_assert_float_eq(b[1], -0.5f);

  /* The forward pass: z1 = W x + b = (-0.5, -1.5, 0) -> relu (0, 0, 0)...
   * use x = (1, 1): z1 = (3.5, 6.5, 12) -> y = 3.5 - 6.5 + 24 + 0.25. */
  x[1] = 1;
  ck_assert_int_eq(mlp_ctx_create(&ctx, m, 1, 0, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_forward(m, ctx, x, 1, y), MLP_OK);
  ck_assert_float_eq_tol(y[0], 21.25f, 1e-5f);
  mlp_ctx_free(ctx);
  mlp_model_free(m);
  free(buf);
}
END_TEST

/* Prefixes are ordered by their numbers, not as strings ("10" > "2"), and
 * a single nn.Linear ("weight", "bias") is one layer. */
START_TEST(numeric_order) {
  static const char json[] =
      "{\"__metadata__\":{\"activations\":\"relu,relu,identity\"},"
      "\"net.10.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],"
      "\"data_offsets\":[0,8]},"
      "\"net.10.bias\":{\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[8,12]},"
      "\"net.2.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],"
      "\"data_offsets\":[12,36]},"
      "\"net.2.bias\":{\"dtype\":\"F32\",\"shape\":[2],"
      "\"data_offsets\":[36,44]},"
      "\"net.0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],"
      "\"data_offsets\":[44,92]},"
      "\"net.0.bias\":{\"dtype\":\"F32\",\"shape\":[3],"
      "\"data_offsets\":[92,104]}}";
  static const char single[] =
      "{\"__metadata__\":{\"activations\":\"sigmoid\"},"
      "\"weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
      "\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
  float data[26] = {0};
  size_t size;
  unsigned char *buf = build(json, data, sizeof data, &size);
  mlp_model *m = NULL;
  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, NULL), MLP_OK);
  ck_assert_uint_eq(mlp_model_layers(m), 3);
  ck_assert_uint_eq(mlp_model_width(m, 0), 4);
  ck_assert_uint_eq(mlp_model_width(m, 3), 1);
  ck_assert_int_eq(mlp_model_act(m, 3), MLP_ACT_IDENTITY);
  mlp_model_free(m);
  free(buf);

  buf = build(single, data, 12, &size);
  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, NULL), MLP_OK);
  ck_assert_uint_eq(mlp_model_layers(m), 1);
  ck_assert_int_eq(mlp_model_act(m, 1), MLP_ACT_SIGMOID);
  mlp_model_free(m);
  free(buf);
}
END_TEST

/* MLP_LOAD_OVERRIDE_ACTS replaces the file's activations. */
START_TEST(override_acts) {
  mlp_model *m = make_model(MLP_F32, MLP_LAYOUT_IN_OUT), *l = NULL;
  mlp_act acts[] = {MLP_ACT_GELU, MLP_ACT_SILU, MLP_ACT_SIGMOID};
  mlp_load_options o = {0};
  size_t size;
  unsigned char *buf;
  mlp_model_save_buffer(m, NULL, 0, &size);
  buf = malloc(size);
  ck_assert_int_eq(mlp_model_save_buffer(m, buf, size, &size), MLP_OK);
  o.acts = acts;
  o.n_acts = 3;
  ck_assert_int_eq(mlp_model_load_buffer(&l, buf, size, &o), MLP_OK);
  ck_assert_int_eq(mlp_model_act(l, 1), MLP_ACT_LEAKY_RELU); /* file's */
  mlp_model_free(l);
  o.flags = MLP_LOAD_OVERRIDE_ACTS;
  ck_assert_int_eq(mlp_model_load_buffer(&l, buf, size, &o), MLP_OK);
  ck_assert_int_eq(mlp_model_act(l, 1), MLP_ACT_GELU);
  ck_assert_int_eq(mlp_model_act(l, 3), MLP_ACT_SIGMOID);
  mlp_model_free(l);
  /* Bad options. */
  o.acts = NULL;
  ck_assert_int_eq(mlp_model_load_buffer(&l, buf, size, &o), MLP_ERR_ARG);
  o.flags = 0x100;
  ck_assert_int_eq(mlp_model_load_buffer(&l, buf, size, &o), MLP_ERR_ARG);
  o.flags = 0;
  o.dtype = (mlp_dtype)9;
  ck_assert_int_eq(mlp_model_load_buffer(&l, buf, size, &o), MLP_ERR_DTYPE);
  ck_assert_int_eq(mlp_model_load_buffer(NULL, buf, size, NULL), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_model_load_buffer(&l, NULL, size, NULL), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_model_load(&l, NULL, NULL), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_model_save(NULL, "x"), MLP_ERR_NULL);
  free(buf);
  mlp_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------
 * Dtypes and values
 */

/* F16 and BF16 tensors convert exactly (every value here is exact in
 * both), including a subnormal F16 and signed zero. */
START_TEST(half_conversion) {
  static const char json[] =
      "{\"__metadata__\":{\"activations\":\"identity\"},"
      "\"layers.0.weight\":{\"dtype\":\"F16\",\"shape\":[2,3],"
      "\"data_offsets\":[0,12]},"
      "\"layers.0.bias\":{\"dtype\":\"BF16\",\"shape\":[2],"
      "\"data_offsets\":[12,16]}}";
  /* 1, -2.5, 65504 (largest f16), 2^-24 (smallest subnormal), -0, 0.099976
   * (0x2e66); bias BF16 1.0 (0x3f80), -2.5 (0xc020). */
  static const uint16_t halves[] = {0x3c00, 0xc100, 0x7bff, 0x0001,
                                    0x8000, 0x2e66, 0x3f80, 0xc020};
  const double expect[] = {1,    -2.5,           65504, ldexp(1, -24),
                           -0.0, 0.0999755859375};
  unsigned char data[16];
  size_t size;
  unsigned char *buf;
  mlp_model *m = NULL;
  mlp_load_options o = {0};
  double w[6], b[2];

  for (int i = 0; i < 8; i++) {
    data[2 * i] = (unsigned char)(halves[i] & 0xff);
    data[2 * i + 1] = (unsigned char)(halves[i] >> 8);
  }
  buf = build(json, data, sizeof data, &size);
  o.dtype = MLP_F64;
  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, &o), MLP_OK);
  ck_assert_int_eq(mlp_model_get_layer(m, 1, w, MLP_LAYOUT_OUT_IN, b), MLP_OK);
  for (int i = 0; i < 6; i++)
    ck_assert_msg(w[i] == expect[i] && signbit(w[i]) == signbit(expect[i]),
                  "F16 element %d: got %.17g, expected %.17g", i, w[i],
                  expect[i]);
  ck_assert_double_eq(b[0], 1.0);
  ck_assert_double_eq(b[1], -2.5);
  mlp_model_free(m);
  /* The default dtype of an F16 file is f32. */
  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, NULL), MLP_OK);
  ck_assert_int_eq(mlp_model_dtype(m), MLP_F32);
  mlp_model_free(m);
  free(buf);
}
END_TEST

/* An F16 infinity is refused like any non-finite value; with
 * MLP_LOAD_ALLOW_NONFINITE it loads. An F64 value beyond f32's range is
 * refused when converting to f32. */
START_TEST(nonfinite_policy) {
  static const char json16[] =
      "{\"__metadata__\":{\"activations\":\"identity\"},"
      "\"layers.0.weight\":{\"dtype\":\"F16\",\"shape\":[1,1],"
      "\"data_offsets\":[0,2]},"
      "\"layers.0.bias\":{\"dtype\":\"F16\",\"shape\":[1],"
      "\"data_offsets\":[2,4]}}";
  static const char json64[] =
      "{\"__metadata__\":{\"activations\":\"identity\"},"
      "\"layers.0.weight\":{\"dtype\":\"F64\",\"shape\":[1,1],"
      "\"data_offsets\":[0,8]},"
      "\"layers.0.bias\":{\"dtype\":\"F64\",\"shape\":[1],"
      "\"data_offsets\":[8,16]}}";
  unsigned char d16[4] = {0x00, 0x7c, 0x00, 0x3c}; /* +inf, 1 */
  double d64[2] = {1e300, 0};
  size_t size;
  unsigned char *buf = build(json16, d16, 4, &size);
  mlp_model *m = NULL;
  mlp_load_options o = {0};
  float w;

  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, NULL),
                   MLP_ERR_NONFINITE);
  ck_assert_ptr_nonnull(
      strstr(mlp_last_error(), "'layers.0.weight': element [0, 0] is inf"));
  ck_assert_ptr_null(m);
  o.flags = MLP_LOAD_ALLOW_NONFINITE;
  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, &o), MLP_OK);
  ck_assert_int_eq(mlp_model_get_layer(m, 1, &w, MLP_LAYOUT_OUT_IN, NULL),
                   MLP_OK);
  ck_assert(isinf(w));
  mlp_model_free(m);
  free(buf);

  buf = build(json64, d64, 16, &size);
  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, NULL), MLP_OK);
  ck_assert_int_eq(mlp_model_dtype(m), MLP_F64);
  mlp_model_free(m);
  o.flags = 0;
  o.dtype = MLP_F32;
  ck_assert_int_eq(mlp_model_load_buffer(&m, buf, size, &o), MLP_ERR_NONFINITE);
  ck_assert_ptr_nonnull(strstr(mlp_last_error(), "beyond the range of f32"));
  free(buf);
}
END_TEST

/* ------------------------------------------------------------------------
 * The malformed corpus
 */

START_TEST(malformed_corpus) {
  char path[1024], line[1024];
  FILE *list;
  int n = 0;
  snprintf(path, sizeof path, "%s/models/malformed/EXPECTED", MLP_TEST_DATA);
  list = fopen(path, "r");
  ck_assert_msg(list != NULL, "cannot open %s", path);
  while (fgets(line, sizeof line, list)) {
    char *name = strtok(line, " \n"), *status = strtok(NULL, " \n");
    char *phrase = strtok(NULL, "\n");
    mlp_model *m = (mlp_model *)&n; /* must be reset to NULL */
    int rc;
    if (!name || name[0] == '#')
      continue;
    ck_assert_ptr_nonnull(status);
    ck_assert_ptr_nonnull(phrase);
    snprintf(path, sizeof path, "%s/models/malformed/%s", MLP_TEST_DATA, name);
    rc = mlp_model_load(&m, path, NULL);
    ck_assert_msg(strcmp(mlp_status_name(rc), status) == 0,
                  "%s: got %s (%s), expected %s", name, mlp_status_name(rc),
                  mlp_last_error(), status);
    ck_assert_msg(strstr(mlp_last_error(), phrase) != NULL,
                  "%s: message \"%s\" lacks \"%s\"", name, mlp_last_error(),
                  phrase);
    ck_assert_msg(strstr(mlp_last_error(), name) != NULL,
                  "%s: message \"%s\" does not name the file", name,
                  mlp_last_error());
    ck_assert_ptr_null(m);
    n++;
  }
  fclose(list);
  ck_assert_int_ge(n, 40);
}
END_TEST

/* Every prefix of a valid file, and every single-byte change of its
 * header, loads or fails cleanly (never crashes, never reads outside the
 * buffer: run under ASan/valgrind to see the latter). */
START_TEST(truncations_and_flips) {
  mlp_model *m = make_model(MLP_F32, MLP_LAYOUT_IN_OUT), *l;
  size_t size, hlen;
  unsigned char *buf, *copy;
  mlp_model_save_buffer(m, NULL, 0, &size);
  buf = malloc(size);
  ck_assert_int_eq(mlp_model_save_buffer(m, buf, size, &size), MLP_OK);
  for (size_t n = 0; n < size; n++) {
    copy = malloc(n ? n : 1);
    memcpy(copy, buf, n);
    ck_assert_int_ne(mlp_model_load_buffer(&l, copy, n, NULL), MLP_OK);
    ck_assert_ptr_null(l);
    free(copy);
  }
  hlen = buf[0] | (size_t)buf[1] << 8;
  copy = malloc(size);
  for (size_t i = 0; i < 8 + hlen; i++) {
    static const unsigned char flips[] = {0x01, 0x20, 0x80, 0xff};
    for (size_t f = 0; f < sizeof flips; f++) {
      memcpy(copy, buf, size);
      copy[i] ^= flips[f];
      if (mlp_model_load_buffer(&l, copy, size, NULL) == MLP_OK)
        mlp_model_free(l);
      else
        ck_assert_ptr_null(l);
    }
  }
  free(copy);
  free(buf);
  mlp_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------
 * Threads
 */

typedef struct load_job {
  const unsigned char *buf;
  size_t size;
  const mlp_model *expect;
  int index, failures;
} load_job;

/* Loads the same bytes many times and saves to a file of its own. */
static void *load_many(void *arg) {
  load_job *job = arg;
  char path[512];
  for (int i = 0; i < 50; i++) {
    mlp_model *m = NULL;
    size_t n1, n2;
    if (mlp_model_load_buffer(&m, job->buf, job->size, NULL) != MLP_OK) {
      job->failures++;
      continue;
    }
    const void *a = mlp_model_params(m, &n1);
    const void *b = mlp_model_params(job->expect, &n2);
    if (n1 != n2 || memcmp(a, b, n1 * sizeof(float)) != 0)
      job->failures++;
    mlp_model_free(m);
  }
  snprintf(path, sizeof path, "%s/t%d.safetensors", tmpdir, job->index);
  if (mlp_model_save(job->expect, path) != MLP_OK)
    job->failures++;
  return NULL;
}

/* Loads and saves on several threads at once give the single-threaded
 * results. */
START_TEST(threads) {
  mlp_model *m = make_model(MLP_F32, MLP_LAYOUT_IN_OUT);
  pthread_t tid[4];
  load_job jobs[4];
  size_t size;
  unsigned char *buf;
  mlp_model_save_buffer(m, NULL, 0, &size);
  buf = malloc(size);
  ck_assert_int_eq(mlp_model_save_buffer(m, buf, size, &size), MLP_OK);
  make_tmpdir();
  for (int t = 0; t < 4; t++) {
    jobs[t] = (load_job){buf, size, m, t, 0};
    ck_assert_int_eq(pthread_create(&tid[t], NULL, load_many, &jobs[t]), 0);
  }
  for (int t = 0; t < 4; t++) {
    pthread_join(tid[t], NULL);
    ck_assert_msg(jobs[t].failures == 0, "thread %d: %d failures", t,
                  jobs[t].failures);
  }
  ck_assert_int_eq(count_files(), 4);
  remove_tmpdir();
  free(buf);
  mlp_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------
 * Allocation failures
 */

static long alloc_budget; /* allocations left before failing; -1: never */

static void *failing_alloc(size_t size, size_t align, void *user) {
  void *p = NULL;
  (void)user;
  if (alloc_budget == 0)
    return NULL;
  if (alloc_budget > 0)
    alloc_budget--;
  if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align,
                     size ? size : 1) != 0)
    return NULL;
  return p;
}

static void plain_free(void *p, void *user) {
  (void)user;
  free(p);
}

START_TEST(alloc_failures) {
  mlp_allocator a = {failing_alloc, plain_free, NULL};
  mlp_model *m, *l = NULL;
  char path[512];
  size_t size;
  unsigned char *buf;
  int rc = -1;

  alloc_budget = -1;
  mlp_set_allocator(&a);
  m = make_model(MLP_F32, MLP_LAYOUT_IN_OUT);
  mlp_model_save_buffer(m, NULL, 0, &size);
  buf = malloc(size);
  ck_assert_int_eq(mlp_model_save_buffer(m, buf, size, &size), MLP_OK);
  for (long budget = 0; rc != MLP_OK; budget++) {
    ck_assert_int_lt(budget, 1000);
    alloc_budget = budget;
    rc = mlp_model_load_buffer(&l, buf, size, NULL);
    if (rc != MLP_OK) {
      ck_assert_int_eq(rc, MLP_ERR_NOMEM);
      ck_assert_ptr_null(l);
    }
  }
  alloc_budget = -1;
  assert_same_model(m, l);
  mlp_model_free(l);

  make_tmpdir();
  snprintf(path, sizeof path, "%s/m.safetensors", tmpdir);
  rc = -1;
  for (long budget = 0; rc != MLP_OK; budget++) {
    ck_assert_int_lt(budget, 1000);
    alloc_budget = budget;
    rc = mlp_model_save(m, path);
    if (rc != MLP_OK) {
      ck_assert_int_eq(rc, MLP_ERR_NOMEM);
      ck_assert_int_eq(count_files(), 0);
    }
  }
  alloc_budget = -1;
  ck_assert_int_eq(count_files(), 1);
  remove_tmpdir();
  free(buf);
  mlp_model_free(m);
  mlp_set_allocator(NULL);
}
END_TEST

static Suite *safetensors_suite(void) {
  Suite *s = suite_create("safetensors");
  TCase *tc = tcase_create("files");
  tcase_add_loop_test(tc, round_trip_buffer, 0, 4);
  tcase_add_test(tc, round_trip_file);
  tcase_add_test(tc, save_refuses_nonfinite);
  tcase_add_test(tc, header_limit);
  tcase_add_test(tc, sequential_names);
  tcase_add_test(tc, numeric_order);
  tcase_add_test(tc, override_acts);
  tcase_add_test(tc, half_conversion);
  tcase_add_test(tc, nonfinite_policy);
  tcase_add_test(tc, malformed_corpus);
  tcase_add_test(tc, truncations_and_flips);
  tcase_add_test(tc, threads);
  tcase_add_test(tc, alloc_failures);
  tcase_set_timeout(tc, 120);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(safetensors_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
