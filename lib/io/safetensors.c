/*
 * safetensors.c - model files: load and save models as safetensors.
 *
 * A file is an 8-byte little-endian header length n, n bytes of JSON, then
 * the data: raw little-endian tensors at the byte ranges the JSON gives
 * (relative to the end of the header). Loading goes in three steps:
 *   1. parse: the JSON header into a flat list of tensors, each checked on
 *      its own (dtype, shape, byte range) and then all together (no
 *      duplicates, overlaps or holes);
 *   2. plan: tensors grouped into layers by prefix and ordered, shapes
 *      chained, activations resolved;
 *   3. copy: each tensor converted once from the file bytes into the new
 *      model's parameters, non-finite values refused.
 * The JSON is parsed with cJSON (docs/formats-models.md says why).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* The largest integer every double below it represents exactly. */
#define ST_EXACT_LIMIT 9007199254740992.0 /* 2^53 */
/* The largest header accepted, as in the reference implementation: a
 * model's header is a few hundred bytes per tensor, and a huge one would
 * only make cJSON build a huge tree. */
#define ST_MAX_HEADER ((uint64_t)100 << 20)
/* At most this many numbers in a layer prefix ("a.1.b.2" has two). */
#define ST_MAX_KEYS 8

typedef enum st_dtype { ST_F32, ST_F64, ST_F16, ST_BF16 } st_dtype;

static const char *const st_dtype_names[] = {"F32", "F64", "F16", "BF16"};
static const size_t st_dtype_sizes[] = {4, 8, 2, 2};

/* One tensor of the header, checked against the data. */
typedef struct st_tensor {
  const char *name; /* owned by the cJSON tree */
  st_dtype dtype;
  size_t ndim;
  size_t shape[2]; /* the first two dimensions (enough for layers) */
  size_t count;    /* elements */
  size_t begin, end;
  size_t prefix_len; /* "net.0" of "net.0.weight" */
  int kind;          /* 1 weight, 2 bias */
} st_tensor;

/* One layer: its weight and bias tensors and its order key. */
typedef struct st_layer {
  const char *prefix; /* points into the weight's (or bias's) name */
  size_t prefix_len;
  const st_tensor *w, *b;
  uint64_t keys[ST_MAX_KEYS];
  size_t n_keys;
} st_layer;

/* Everything one load works on. */
typedef struct st_load {
  const char *src;           /* "path: " or "" for messages */
  const unsigned char *data; /* start of the tensor data */
  size_t data_size;
  cJSON *root;
  const char *acts; /* __metadata__.activations, or NULL */
  st_tensor *tensors;
  size_t n_tensors;
  st_layer *layers;
  size_t n_layers;
} st_load;

/* ------------------------------------------------------------------------
 * Little-endian element access
 */

static uint64_t st_le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static float st_f16_to_f32(uint16_t h) {
  unsigned sign = h >> 15, exp = (h >> 10) & 31u, mant = h & 1023u;
  float v;
  if (exp == 0)
    v = ldexpf((float)mant, -24); /* zero and subnormals */
  else if (exp == 31)
    v = mant ? NAN : INFINITY;
  else
    v = ldexpf((float)(mant | 1024u), (int)exp - 25);
  return sign ? -v : v;
}

/* Element j of a tensor of dtype at p, as a double. */
static double st_elem(st_dtype dtype, const unsigned char *p, size_t j) {
  p += j * st_dtype_sizes[dtype];
  switch (dtype) {
  case ST_F32: {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
  }
  case ST_F64: {
    uint64_t u = st_le64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
  }
  case ST_F16:
    return st_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
  case ST_BF16: {
    uint32_t u = ((uint32_t)p[0] | (uint32_t)p[1] << 8) << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
  }
  }
  return NAN;
}

/* ------------------------------------------------------------------------
 * Step 1: the header
 */

/* A JSON number that must be an integer in [0, 2^53) (sizes beyond are
 * beyond any file anyway). */
static int st_get_size(const st_load *ld, const cJSON *item, const char *tensor,
                       const char *what, size_t *out) {
  double d;
  if (!cJSON_IsNumber(item))
    return mlp__fail(MLP_ERR_FORMAT, "%stensor '%s': %s must be numbers",
                     ld->src, tensor, what);
  d = item->valuedouble;
  if (!(d >= 0) || d != floor(d))
    return mlp__fail(MLP_ERR_FORMAT,
                     "%stensor '%s': %s holds %g, not a non-negative "
                     "integer",
                     ld->src, tensor, what, d);
  if (d >= ST_EXACT_LIMIT || d > (double)SIZE_MAX)
    return mlp__fail(MLP_ERR_OVERFLOW,
                     "%stensor '%s': %s value %.0f is "
                     "too large",
                     ld->src, tensor, what, d);
  *out = (size_t)d;
  return MLP_OK;
}

/* Parses and checks one tensor entry on its own. */
static int st_parse_tensor(const st_load *ld, const cJSON *item, st_tensor *t) {
  const char *name = item->string;
  const cJSON *dtype, *shape, *offsets, *dim;
  size_t bytes, i;
  int rc;

  if (!cJSON_IsObject(item))
    return mlp__fail(MLP_ERR_FORMAT,
                     "%stensor '%s': entry is not an "
                     "object",
                     ld->src, name);
  dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
  shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
  offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
  if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
      !cJSON_IsArray(offsets))
    return mlp__fail(MLP_ERR_FORMAT,
                     "%stensor '%s': needs a string "
                     "\"dtype\" and arrays \"shape\" and \"data_offsets\"",
                     ld->src, name);

  t->name = name;
  for (i = 0; i < 4; i++)
    if (strcmp(dtype->valuestring, st_dtype_names[i]) == 0)
      break;
  if (i == 4)
    return mlp__fail(MLP_ERR_DTYPE,
                     "%stensor '%s': dtype \"%.20s\" is not "
                     "supported (F32, F64, F16, BF16)",
                     ld->src, name, dtype->valuestring);
  t->dtype = (st_dtype)i;

  t->ndim = 0;
  t->count = 1;
  t->shape[0] = t->shape[1] = 0;
  cJSON_ArrayForEach(dim, shape) {
    size_t n = 0;
    if ((rc = st_get_size(ld, dim, name, "shape", &n)) != MLP_OK)
      return rc;
    if (t->ndim < 2)
      t->shape[t->ndim] = n;
    t->ndim++;
    if (mlp__mul_overflow(t->count, n, &t->count))
      return mlp__fail(MLP_ERR_OVERFLOW,
                       "%stensor '%s': the product of "
                       "its shape overflows",
                       ld->src, name);
  }

  if (cJSON_GetArraySize(offsets) != 2)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%stensor '%s': data_offsets must "
                     "have 2 entries [begin, end]",
                     ld->src, name);
  if ((rc = st_get_size(ld, offsets->child, name, "data_offsets", &t->begin)) !=
          MLP_OK ||
      (rc = st_get_size(ld, offsets->child->next, name, "data_offsets",
                        &t->end)) != MLP_OK)
    return rc;
  if (t->begin > t->end)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%stensor '%s': data_offsets [%zu, "
                     "%zu] are reversed",
                     ld->src, name, t->begin, t->end);
  if (t->end > ld->data_size)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%stensor '%s': data_offsets [%zu, "
                     "%zu] go beyond the %zu bytes of data",
                     ld->src, name, t->begin, t->end, ld->data_size);
  if (mlp__mul_overflow(t->count, st_dtype_sizes[t->dtype], &bytes))
    return mlp__fail(MLP_ERR_OVERFLOW,
                     "%stensor '%s': its byte size "
                     "overflows",
                     ld->src, name);
  if (bytes != t->end - t->begin)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%stensor '%s': %zu elements of %s "
                     "need %zu bytes but data_offsets [%zu, %zu] hold %zu",
                     ld->src, name, t->count, st_dtype_names[t->dtype], bytes,
                     t->begin, t->end, t->end - t->begin);
  return MLP_OK;
}

static int st_cmp_name(const void *a, const void *b) {
  return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int st_cmp_begin(const void *a, const void *b) {
  const st_tensor *x = a, *y = b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

/* Reads __metadata__: a flat object of strings. */
static int st_parse_metadata(st_load *ld, const cJSON *meta) {
  const cJSON *item;
  if (!cJSON_IsObject(meta))
    return mlp__fail(MLP_ERR_FORMAT, "%s__metadata__ is not an object",
                     ld->src);
  cJSON_ArrayForEach(item, meta) {
    if (!cJSON_IsString(item))
      return mlp__fail(MLP_ERR_FORMAT, "%s__metadata__.%s is not a string",
                       ld->src, item->string);
    if (strcmp(item->string, "activations") == 0)
      ld->acts = item->valuestring;
  }
  return MLP_OK;
}

/* Parses the header at json (len bytes) into ld->tensors, sorted by name. */
static int st_parse_header(st_load *ld, const char *json, size_t len) {
  const char *end = NULL;
  const cJSON *item;
  size_t i, n, expect;
  int rc;

  if (len == 0 || json[0] != '{')
    return mlp__fail(MLP_ERR_FORMAT,
                     "%sthe header is not a JSON object "
                     "(it must start with '{')",
                     ld->src);
  ld->root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  if (!ld->root) {
    size_t at =
        end && end >= json && end <= json + len ? (size_t)(end - json) : len;
    return mlp__fail(MLP_ERR_FORMAT,
                     "%sinvalid JSON in the header at "
                     "byte %zu of %zu",
                     ld->src, at, len);
  }
  /* The header may be padded with spaces after the object, nothing else. */
  for (; end < json + len; end++)
    if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
      return mlp__fail(MLP_ERR_FORMAT,
                       "%sunexpected bytes after the JSON "
                       "header at byte %zu",
                       ld->src, (size_t)(end - json));
  if (!cJSON_IsObject(ld->root))
    return mlp__fail(MLP_ERR_FORMAT, "%sthe header is not a JSON object",
                     ld->src);

  n = 0;
  cJSON_ArrayForEach(item, ld->root) n++;
  ld->tensors = mlp__calloc(n ? n : 1, sizeof *ld->tensors);
  if (!ld->tensors)
    return mlp__fail(MLP_ERR_NOMEM, "%sno memory for %zu tensor entries",
                     ld->src, n);
  cJSON_ArrayForEach(item, ld->root) {
    if (strcmp(item->string, "__metadata__") == 0) {
      if ((rc = st_parse_metadata(ld, item)) != MLP_OK)
        return rc;
      continue;
    }
    rc = st_parse_tensor(ld, item, &ld->tensors[ld->n_tensors]);
    if (rc != MLP_OK)
      return rc;
    ld->n_tensors++;
  }

  /* Names are unique. */
  qsort(ld->tensors, ld->n_tensors, sizeof *ld->tensors, st_cmp_name);
  for (i = 1; i < ld->n_tensors; i++)
    if (strcmp(ld->tensors[i - 1].name, ld->tensors[i].name) == 0)
      return mlp__fail(MLP_ERR_FORMAT, "%stensor '%s' appears twice", ld->src,
                       ld->tensors[i].name);

  /* Byte ranges tile the data exactly: no overlap, no hole. */
  qsort(ld->tensors, ld->n_tensors, sizeof *ld->tensors, st_cmp_begin);
  expect = 0;
  for (i = 0; i < ld->n_tensors; i++) {
    const st_tensor *t = &ld->tensors[i];
    if (t->begin < expect)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%stensors '%s' and '%s' overlap "
                       "(data_offsets [%zu, %zu] and [%zu, %zu])",
                       ld->src, ld->tensors[i - 1].name, t->name,
                       ld->tensors[i - 1].begin, ld->tensors[i - 1].end,
                       t->begin, t->end);
    if (t->begin > expect)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%sdata bytes [%zu, %zu) belong to "
                       "no tensor (before '%s')",
                       ld->src, expect, t->begin, t->name);
    expect = t->end;
  }
  if (expect != ld->data_size)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%sdata bytes [%zu, %zu) belong to no "
                     "tensor (after the last one)",
                     ld->src, expect, ld->data_size);
  qsort(ld->tensors, ld->n_tensors, sizeof *ld->tensors, st_cmp_name);
  return MLP_OK;
}

/* ------------------------------------------------------------------------
 * Step 2: layers
 */

/* Splits "prefix.weight" / "prefix.bias" (or a bare "weight" / "bias");
 * returns 1 for a weight, 2 for a bias, 0 for anything else. */
static int st_split_name(const char *name, size_t *prefix_len) {
  static const char *const suffix[] = {"weight", "bias"};
  size_t len = strlen(name);
  for (int s = 0; s < 2; s++) {
    size_t sl = strlen(suffix[s]);
    if (len == sl && strcmp(name, suffix[s]) == 0) {
      *prefix_len = 0;
      return s + 1;
    }
    if (len > sl + 1 && strcmp(name + len - sl, suffix[s]) == 0 &&
        name[len - sl - 1] == '.') {
      *prefix_len = len - sl - 1;
      return s + 1;
    }
  }
  return 0;
}

/* The numbers in a layer's prefix, in order ("block.3.fc.1": 3, 1). */
static int st_layer_keys(const st_load *ld, st_layer *l) {
  size_t i = 0;
  l->n_keys = 0;
  while (i < l->prefix_len) {
    uint64_t v = 0;
    if (l->prefix[i] < '0' || l->prefix[i] > '9') {
      i++;
      continue;
    }
    if (l->n_keys == ST_MAX_KEYS)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%slayer '%.*s': more than %d "
                       "numbers in its name",
                       ld->src, (int)l->prefix_len, l->prefix, ST_MAX_KEYS);
    for (; i < l->prefix_len && l->prefix[i] >= '0' && l->prefix[i] <= '9';
         i++) {
      if (v > (UINT64_MAX - 9) / 10)
        return mlp__fail(MLP_ERR_FORMAT,
                         "%slayer '%.*s': number too "
                         "large to order by",
                         ld->src, (int)l->prefix_len, l->prefix);
      v = v * 10 + (uint64_t)(l->prefix[i] - '0');
    }
    l->keys[l->n_keys++] = v;
  }
  return MLP_OK;
}

static int st_cmp_layer(const void *a, const void *b) {
  const st_layer *x = a, *y = b;
  for (size_t i = 0; i < x->n_keys && i < y->n_keys; i++)
    if (x->keys[i] != y->keys[i])
      return x->keys[i] < y->keys[i] ? -1 : 1;
  return x->n_keys < y->n_keys ? -1 : x->n_keys > y->n_keys;
}

/* Orders tensors by prefix, then weight before bias. */
static int st_cmp_prefix(const void *a, const void *b) {
  const st_tensor *x = a, *y = b;
  size_t n = x->prefix_len < y->prefix_len ? x->prefix_len : y->prefix_len;
  int c = memcmp(x->name, y->name, n);
  if (c != 0)
    return c;
  if (x->prefix_len != y->prefix_len)
    return x->prefix_len < y->prefix_len ? -1 : 1;
  return x->kind - y->kind;
}

/* Groups the tensors into layers by prefix, orders and chains them. */
static int st_plan_layers(st_load *ld) {
  size_t i;
  int rc;

  ld->layers =
      mlp__calloc(ld->n_tensors ? ld->n_tensors : 1, sizeof *ld->layers);
  if (!ld->layers)
    return mlp__fail(MLP_ERR_NOMEM, "%sno memory for the layer list", ld->src);
  for (i = 0; i < ld->n_tensors; i++) {
    st_tensor *t = &ld->tensors[i];
    t->kind = st_split_name(t->name, &t->prefix_len);
    if (t->kind == 0)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%sunexpected tensor '%s' (a model "
                       "file holds only <layer>.weight and <layer>.bias)",
                       ld->src, t->name);
  }
  /* Sorted by prefix, a layer's weight and bias are neighbours. */
  if (ld->n_tensors > 1)
    qsort(ld->tensors, ld->n_tensors, sizeof *ld->tensors, st_cmp_prefix);
  for (i = 0; i < ld->n_tensors; i++) {
    const st_tensor *t = &ld->tensors[i];
    st_layer *l = ld->n_layers ? &ld->layers[ld->n_layers - 1] : NULL;
    if (!l || l->prefix_len != t->prefix_len ||
        memcmp(l->prefix, t->name, t->prefix_len) != 0) {
      l = &ld->layers[ld->n_layers++];
      l->prefix = t->name;
      l->prefix_len = t->prefix_len;
    }
    if (t->kind == 1)
      l->w = t;
    else
      l->b = t;
  }
  if (ld->n_layers == 0)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%sno layers: the file holds no "
                     "<layer>.weight tensor",
                     ld->src);

  for (i = 0; i < ld->n_layers; i++) {
    st_layer *l = &ld->layers[i];
    if (!l->w)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%stensor '%s' has no weight "
                       "'%.*s%sweight'",
                       ld->src, l->b->name, (int)l->prefix_len, l->prefix,
                       l->prefix_len ? "." : "");
    if (!l->b)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%stensor '%s' has no bias "
                       "'%.*s%sbias' (layers without bias are not "
                       "supported)",
                       ld->src, l->w->name, (int)l->prefix_len, l->prefix,
                       l->prefix_len ? "." : "");
    if ((rc = st_layer_keys(ld, l)) != MLP_OK)
      return rc;
  }

  qsort(ld->layers, ld->n_layers, sizeof *ld->layers, st_cmp_layer);
  for (i = 1; i < ld->n_layers; i++)
    if (st_cmp_layer(&ld->layers[i - 1], &ld->layers[i]) == 0)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%scannot order layers '%.*s' and "
                       "'%.*s': the numbers in their names are equal",
                       ld->src, (int)ld->layers[i - 1].prefix_len,
                       ld->layers[i - 1].prefix, (int)ld->layers[i].prefix_len,
                       ld->layers[i].prefix);

  for (i = 0; i < ld->n_layers; i++) {
    const st_tensor *w = ld->layers[i].w, *b = ld->layers[i].b;
    if (w->ndim != 2)
      return mlp__fail(MLP_ERR_SHAPE,
                       "%stensor '%s' has %zu dimensions, "
                       "expected 2 [out, in]",
                       ld->src, w->name, w->ndim);
    if (w->shape[0] == 0 || w->shape[1] == 0)
      return mlp__fail(MLP_ERR_SHAPE,
                       "%stensor '%s' has shape [%zu, %zu]: "
                       "widths must be at least 1",
                       ld->src, w->name, w->shape[0], w->shape[1]);
    if (b->ndim != 1 || b->shape[0] != w->shape[0])
      return mlp__fail(MLP_ERR_SHAPE,
                       "%stensor '%s' must have shape [%zu] "
                       "to match '%s' [%zu, %zu]",
                       ld->src, b->name, w->shape[0], w->name, w->shape[0],
                       w->shape[1]);
    if (i > 0 && w->shape[1] != ld->layers[i - 1].w->shape[0])
      return mlp__fail(MLP_ERR_SHAPE,
                       "%slayers do not chain: '%s' [%zu, "
                       "%zu] takes %zu inputs but '%s' gives %zu",
                       ld->src, w->name, w->shape[0], w->shape[1], w->shape[1],
                       ld->layers[i - 1].w->name,
                       ld->layers[i - 1].w->shape[0]);
  }
  return MLP_OK;
}

/* Parses "relu,leaky_relu:0.2,softmax" into acts/slopes (n entries). */
static int st_parse_acts(const st_load *ld, const char *text, mlp_act *acts,
                         double *slopes, size_t n) {
  size_t count = 1, k = 0;
  const char *p;
  for (p = text; *p; p++)
    count += *p == ',';
  if (count != n)
    return mlp__fail(MLP_ERR_ACTIVATION,
                     "%s__metadata__.activations names "
                     "%zu activations for %zu layers (\"%.60s\")",
                     ld->src, count, n, text);
  p = text;
  for (k = 0; k < n; k++) {
    char tok[32];
    const char *end = strchr(p, ','), *colon;
    size_t len = end ? (size_t)(end - p) : strlen(p);
    while (len > 0 && (*p == ' ' || *p == '\t'))
      p++, len--;
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
      len--;
    if (len >= sizeof tok)
      return mlp__fail(MLP_ERR_ACTIVATION,
                       "%s__metadata__.activations: "
                       "unknown activation '%.*s' (item %zu)",
                       ld->src, (int)(len < 40 ? len : 40), p, k + 1);
    memcpy(tok, p, len);
    tok[len] = '\0';
    slopes[k] = MLP_LEAKY_RELU_DEFAULT_SLOPE;
    colon = strchr(tok, ':');
    if (colon && strncmp(tok, "leaky_relu:", 11) == 0) {
      char *stop;
      double s = strtod(colon + 1, &stop);
      if (stop == colon + 1 || *stop != '\0' || !isfinite(s))
        return mlp__fail(MLP_ERR_ACTIVATION,
                         "%s__metadata__.activations: "
                         "bad leaky_relu slope '%s' (item %zu)",
                         ld->src, colon + 1, k + 1);
      slopes[k] = s;
      tok[colon - tok] = '\0';
    }
    if (mlp_act_parse(tok, &acts[k]) != MLP_OK)
      return mlp__fail(MLP_ERR_ACTIVATION,
                       "%s__metadata__.activations: "
                       "unknown activation '%s' (item %zu)",
                       ld->src, tok, k + 1);
    p = end ? end + 1 : p + len;
  }
  return MLP_OK;
}

/* ------------------------------------------------------------------------
 * Step 3: copy into the model
 */

/* 1 when this host stores numbers little-endian, as the files do. */
static int st_host_le(void) {
  const uint16_t one = 1;
  unsigned char first;
  memcpy(&first, &one, 1);
  return first == 1;
}

/* Copies tensor t (rows x cols, row-major in the file) into dst of the
 * model's dtype, transposed when asked; then refuses non-finite values
 * (naming the element in the file's [row, col] order). A tensor already
 * in the model's dtype is copied with memcpy: the common case costs one
 * pass over the mapped file and one over the copy. */
static int st_copy(const st_load *ld, const st_tensor *t, mlp_dtype dtype,
                   void *dst, size_t rows, size_t cols, int transpose,
                   int allow_nonfinite) {
  const unsigned char *src = ld->data + t->begin;
  size_t n = rows * cols, elem = dtype == MLP_F32 ? 4 : 8;
  int same = st_host_le() && ((dtype == MLP_F32 && t->dtype == ST_F32) ||
                              (dtype == MLP_F64 && t->dtype == ST_F64));

  if (same && !transpose) {
    memcpy(dst, src, n * elem);
  } else if (same) {
    /* Transpose in 32 x 32 tiles, so that reads and writes both stay in
     * cache. */
    for (size_t r0 = 0; r0 < rows; r0 += 32)
      for (size_t c0 = 0; c0 < cols; c0 += 32) {
        size_t r1 = r0 + 32 < rows ? r0 + 32 : rows;
        size_t c1 = c0 + 32 < cols ? c0 + 32 : cols;
        for (size_t r = r0; r < r1; r++)
          for (size_t c = c0; c < c1; c++) {
            if (elem == 4)
              memcpy((float *)dst + c * rows + r, src + (r * cols + c) * 4, 4);
            else
              memcpy((double *)dst + c * rows + r, src + (r * cols + c) * 8, 8);
          }
      }
  } else {
    for (size_t r = 0; r < rows; r++)
      for (size_t c = 0; c < cols; c++) {
        double v = st_elem(t->dtype, src, r * cols + c);
        size_t at = transpose ? c * rows + r : r * cols + c;
        if (dtype == MLP_F32)
          ((float *)dst)[at] = fabs(v) > FLT_MAX && isfinite(v)
                                   ? (v > 0 ? INFINITY : -INFINITY)
                                   : (float)v;
        else
          ((double *)dst)[at] = v;
      }
  }
  if (allow_nonfinite)
    return MLP_OK;

  for (size_t at = 0; at < n; at++) {
    double v =
        dtype == MLP_F32 ? ((const float *)dst)[at] : ((const double *)dst)[at];
    size_t r, c;
    double orig;
    if (isfinite(v))
      continue;
    r = transpose ? at % rows : at / cols;
    c = transpose ? at / rows : at % cols;
    orig = st_elem(t->dtype, src, r * cols + c);
    if (t->ndim == 1)
      return mlp__fail(MLP_ERR_NONFINITE,
                       "%stensor '%s': element [%zu] "
                       "is %g%s",
                       ld->src, t->name, c, orig,
                       isfinite(orig) ? ", beyond the range of f32" : "");
    return mlp__fail(MLP_ERR_NONFINITE,
                     "%stensor '%s': element [%zu, "
                     "%zu] is %g%s",
                     ld->src, t->name, r, c, orig,
                     isfinite(orig) ? ", beyond the range of f32" : "");
  }
  return MLP_OK;
}

static void st_load_release(st_load *ld) {
  cJSON_Delete(ld->root);
  mlp__free(ld->tensors);
  mlp__free(ld->layers);
}

static int st_load_from(mlp_model **model, const unsigned char *bytes,
                        size_t size, const mlp_load_options *opts,
                        const char *src) {
  static const mlp_load_options defaults;
  st_load ld;
  uint64_t hlen;
  size_t *widths = NULL, i;
  mlp_act *acts = NULL;
  double *slopes = NULL;
  mlp_dtype dtype;
  mlp_model *m = NULL;
  int rc;

  memset(&ld, 0, sizeof ld);
  ld.src = src;
  if (!opts)
    opts = &defaults;
  if (opts->dtype != 0 && opts->dtype != MLP_F32 && opts->dtype != MLP_F64)
    return mlp__fail(MLP_ERR_DTYPE,
                     "mlp_model_load: unknown dtype %d in "
                     "the options",
                     (int)opts->dtype);
  if (opts->flags & ~(MLP_LOAD_OVERRIDE_ACTS | MLP_LOAD_ALLOW_NONFINITE))
    return mlp__fail(MLP_ERR_ARG, "mlp_model_load: unknown flags 0x%x",
                     opts->flags);
  if ((opts->flags & MLP_LOAD_OVERRIDE_ACTS) && !opts->acts)
    return mlp__fail(MLP_ERR_ARG, "mlp_model_load: MLP_LOAD_OVERRIDE_ACTS "
                                  "without acts");

  if (size < 8)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%sthe file has %zu bytes, fewer than "
                     "the 8 of the header length",
                     src, size);
  hlen = st_le64(bytes);
  if (hlen > size - 8)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%sheader length %llu goes beyond the "
                     "file (%zu bytes)",
                     src, (unsigned long long)hlen, size);
  if (hlen > ST_MAX_HEADER)
    return mlp__fail(
        MLP_ERR_FORMAT, "%sheader length %llu exceeds the limit of %llu bytes",
        src, (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
  ld.data = bytes + 8 + hlen;
  ld.data_size = size - 8 - (size_t)hlen;

  rc = st_parse_header(&ld, (const char *)bytes + 8, (size_t)hlen);
  if (rc == MLP_OK)
    rc = st_plan_layers(&ld);
  if (rc != MLP_OK)
    goto done;

  widths = mlp__calloc(ld.n_layers + 1, sizeof *widths);
  acts = mlp__calloc(ld.n_layers, sizeof *acts);
  slopes = mlp__calloc(ld.n_layers, sizeof *slopes);
  if (!widths || !acts || !slopes) {
    rc = mlp__fail(MLP_ERR_NOMEM, "%sno memory for %zu layers", src,
                   ld.n_layers);
    goto done;
  }

  /* Activations: the caller's when overriding or when the file has none. */
  if (opts->acts && ((opts->flags & MLP_LOAD_OVERRIDE_ACTS) || !ld.acts)) {
    if (opts->n_acts != ld.n_layers) {
      rc = mlp__fail(MLP_ERR_ACTIVATION,
                     "%s%zu activations given for the "
                     "file's %zu layers",
                     src, opts->n_acts, ld.n_layers);
      goto done;
    }
    for (i = 0; i < ld.n_layers; i++) {
      acts[i] = opts->acts[i];
      slopes[i] = MLP_LEAKY_RELU_DEFAULT_SLOPE;
    }
  } else if (ld.acts) {
    rc = st_parse_acts(&ld, ld.acts, acts, slopes, ld.n_layers);
    if (rc != MLP_OK)
      goto done;
  } else {
    rc = mlp__fail(MLP_ERR_ACTIVATION,
                   "%sthe file names no activations "
                   "(__metadata__.activations) and none were given",
                   src);
    goto done;
  }

  dtype = opts->dtype;
  if (dtype == 0) {
    dtype = MLP_F32;
    for (i = 0; i < ld.n_layers; i++)
      if (ld.layers[i].w->dtype == ST_F64 || ld.layers[i].b->dtype == ST_F64)
        dtype = MLP_F64;
  }
  widths[0] = ld.layers[0].w->shape[1];
  for (i = 0; i < ld.n_layers; i++)
    widths[i + 1] = ld.layers[i].w->shape[0];
  rc = mlp_model_create(&m, dtype, ld.n_layers, widths, acts, opts->storage);
  if (rc != MLP_OK)
    goto done;

  for (i = 0; i < ld.n_layers && rc == MLP_OK; i++) {
    const st_layer *l = &ld.layers[i];
    int allow = (opts->flags & MLP_LOAD_ALLOW_NONFINITE) != 0;
    if (acts[i] == MLP_ACT_LEAKY_RELU &&
        slopes[i] != MLP_LEAKY_RELU_DEFAULT_SLOPE)
      rc = mlp_model_set_slope(m, i + 1, slopes[i]);
    if (rc == MLP_OK)
      rc = st_copy(&ld, l->w, dtype, mlp__w(m, i + 1), l->w->shape[0],
                   l->w->shape[1], m->storage == MLP_LAYOUT_IN_OUT, allow);
    if (rc == MLP_OK)
      rc = st_copy(&ld, l->b, dtype, mlp__b(m, i + 1), 1, l->b->shape[0], 0,
                   allow);
  }

done:
  mlp__free(widths);
  mlp__free(acts);
  mlp__free(slopes);
  st_load_release(&ld);
  if (rc != MLP_OK) {
    mlp_model_free(m);
    m = NULL;
  }
  *model = m;
  return rc;
}

int mlp_model_load_buffer(mlp_model **model, const void *data, size_t size,
                          const mlp_load_options *opts) {
  if (!model)
    return mlp__fail(MLP_ERR_NULL, "mlp_model_load_buffer: model is NULL");
  *model = NULL;
  if (!data)
    return mlp__fail(MLP_ERR_NULL, "mlp_model_load_buffer: data is NULL");
  return st_load_from(model, data, size, opts, "");
}

/* Reads a file that cannot be mapped (a pipe) into an allocated buffer. */
static int st_read_all(int fd, const char *path, unsigned char **out,
                       size_t *size) {
  size_t cap = 1 << 16, len = 0;
  unsigned char *buf = mlp__alloc(cap);
  for (;;) {
    ssize_t got;
    if (!buf)
      return mlp__fail(MLP_ERR_NOMEM, "%s: no memory to read the file", path);
    if (len == cap) {
      unsigned char *bigger;
      if (cap > SIZE_MAX / 2 || !(bigger = mlp__alloc(cap * 2))) {
        mlp__free(buf);
        return mlp__fail(MLP_ERR_NOMEM,
                         "%s: no memory to read the file "
                         "(%zu bytes so far)",
                         path, len);
      }
      memcpy(bigger, buf, len);
      mlp__free(buf);
      buf = bigger;
      cap *= 2;
    }
    got = read(fd, buf + len, cap - len);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      int e = errno;
      mlp__free(buf);
      return mlp__fail(MLP_ERR_IO, "%s: read failed: %s", path, strerror(e));
    }
    if (got == 0)
      break;
    len += (size_t)got;
  }
  *out = buf;
  *size = len;
  return MLP_OK;
}

int mlp_model_load(mlp_model **model, const char *path,
                   const mlp_load_options *opts) {
  struct stat st;
  unsigned char *bytes = NULL;
  size_t size = 0, src_len;
  char *src;
  int fd, rc, mapped = 0;

  if (!model)
    return mlp__fail(MLP_ERR_NULL, "mlp_model_load: model is NULL");
  *model = NULL;
  if (!path)
    return mlp__fail(MLP_ERR_NULL, "mlp_model_load: path is NULL");

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return mlp__fail(MLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  if (fstat(fd, &st) != 0) {
    rc = mlp__fail(MLP_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    close(fd);
    return rc;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return mlp__fail(MLP_ERR_IO, "%s: is a directory", path);
  }
  if (S_ISREG(st.st_mode) && st.st_size > 0) {
    if ((uintmax_t)st.st_size > SIZE_MAX) {
      close(fd);
      return mlp__fail(MLP_ERR_OVERFLOW, "%s: too large to map", path);
    }
    size = (size_t)st.st_size;
    bytes = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (bytes == MAP_FAILED) {
      rc = mlp__fail(MLP_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
      close(fd);
      return rc;
    }
    mapped = 1;
    (void)madvise(bytes, size, MADV_SEQUENTIAL);
  } else if ((rc = st_read_all(fd, path, &bytes, &size)) != MLP_OK) {
    close(fd);
    return rc;
  }
  close(fd);

  /* Messages from the parser start with "path: ". */
  src_len = strlen(path) + 3;
  src = mlp__alloc(src_len);
  if (!src) {
    rc = mlp__fail(MLP_ERR_NOMEM, "%s: no memory", path);
  } else {
    snprintf(src, src_len, "%s: ", path);
    rc = st_load_from(model, bytes, size, opts, src);
    mlp__free(src);
  }
  if (mapped)
    munmap(bytes, size);
  else
    mlp__free(bytes);
  return rc;
}

/* ------------------------------------------------------------------------
 * Saving
 */

/* A growing text buffer for the JSON header. */
typedef struct st_text {
  char *s;
  size_t len, cap;
  int failed;
} st_text;

static void st_text_add(st_text *t, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void st_text_add(st_text *t, const char *fmt, ...) {
  va_list ap;
  int n;
  if (t->failed)
    return;
  for (;;) {
    va_start(ap, fmt);
    n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt,
                  ap);
    va_end(ap);
    if (n < 0) {
      t->failed = 1;
      return;
    }
    if (t->s && (size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = t->cap ? t->cap * 2 : 1024;
    while (cap < t->len + (size_t)n + 1)
      cap *= 2;
    char *bigger = mlp__alloc(cap);
    if (!bigger) {
      t->failed = 1;
      return;
    }
    if (t->s)
      memcpy(bigger, t->s, t->len);
    mlp__free(t->s);
    t->s = bigger;
    t->cap = cap;
  }
}

/* The shortest "%g" form of x that reads back as x. */
static void st_format_double(char *out, size_t size, double x) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(out, size, "%.*g", prec, x);
    if (strtod(out, NULL) == x)
      return;
  }
}

/* Builds the padded header (without its length) for model. */
static int st_build_header(const mlp_model *m, st_text *h) {
  const char *dt = m->dtype == MLP_F64 ? "F64" : "F32";
  size_t off = 0;
  char slope[40];

  st_text_add(h,
              "{\"__metadata__\":{\"format\":\"pt\",\"producer\":"
              "\"libmlp %s\",\"activations\":\"",
              mlp_version());
  for (size_t k = 1; k <= m->n_layers; k++) {
    const mlp__layer *l = &m->layers[k - 1];
    st_text_add(h, "%s%s", k > 1 ? "," : "", mlp_act_name(l->act));
    if (l->act == MLP_ACT_LEAKY_RELU &&
        l->slope != MLP_LEAKY_RELU_DEFAULT_SLOPE) {
      st_format_double(slope, sizeof slope, l->slope);
      st_text_add(h, ":%s", slope);
    }
  }
  st_text_add(h, "\"}");
  for (size_t k = 1; k <= m->n_layers; k++) {
    const mlp__layer *l = &m->layers[k - 1];
    size_t wbytes = l->in * l->out * m->elem, bbytes = l->out * m->elem;
    st_text_add(h,
                ",\"layers.%zu.weight\":{\"dtype\":\"%s\",\"shape\":"
                "[%zu,%zu],\"data_offsets\":[%zu,%zu]}",
                k - 1, dt, l->out, l->in, off, off + wbytes);
    off += wbytes;
    st_text_add(h,
                ",\"layers.%zu.bias\":{\"dtype\":\"%s\",\"shape\":[%zu],"
                "\"data_offsets\":[%zu,%zu]}",
                k - 1, dt, l->out, off, off + bbytes);
    off += bbytes;
  }
  st_text_add(h, "}");
  /* Pad with spaces so that the data starts 8-byte aligned. */
  while (!h->failed && (h->len + 8) % 8 != 0)
    st_text_add(h, " ");
  if (h->failed)
    return mlp__fail(MLP_ERR_NOMEM, "mlp_model_save: no memory for the "
                                    "header");
  return MLP_OK;
}

/* Where serialised bytes go: a caller buffer or a file descriptor. */
typedef struct st_sink {
  unsigned char *buf; /* memory target, or the staging buffer for fd */
  size_t len, cap;
  int fd; /* -1 for memory */
  const char *path;
} st_sink;

static int st_sink_flush(st_sink *s) {
  size_t done = 0;
  if (s->fd < 0)
    return MLP_OK;
  while (done < s->len) {
    ssize_t n = write(s->fd, s->buf + done, s->len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return mlp__fail(MLP_ERR_IO, "%s: write failed: %s", s->path,
                       strerror(errno));
    done += (size_t)n;
  }
  s->len = 0;
  return MLP_OK;
}

static int st_sink_put(st_sink *s, const void *data, size_t n) {
  const unsigned char *p = data;
  while (n > 0) {
    size_t room = s->cap - s->len, step = n < room ? n : room;
    int rc;
    memcpy(s->buf + s->len, p, step);
    s->len += step;
    p += step;
    n -= step;
    if (n > 0 && (rc = st_sink_flush(s)) != MLP_OK)
      return rc;
  }
  return MLP_OK;
}

/* Writes the elements of one tensor, in [out, in] order for weights, as
 * little-endian bytes; refuses non-finite values. */
static int st_put_tensor(st_sink *s, const mlp_model *m, size_t k,
                         int is_weight) {
  const mlp__layer *l = &m->layers[k - 1];
  const unsigned char *base = is_weight ? mlp__w(m, k) : mlp__b(m, k);
  size_t rows = is_weight ? l->out : 1, cols = is_weight ? l->in : l->out;
  int transpose = is_weight && m->storage == MLP_LAYOUT_IN_OUT;
  unsigned char le[8];

  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++) {
      size_t at = transpose ? c * rows + r : r * cols + c;
      double v;
      uint64_t u;
      int rc;
      if (m->dtype == MLP_F32) {
        float f;
        uint32_t u32;
        memcpy(&f, base + at * 4, 4);
        memcpy(&u32, &f, 4);
        u = u32;
        v = f;
      } else {
        memcpy(&v, base + at * 8, 8);
        memcpy(&u, &v, 8);
      }
      if (!isfinite(v))
        return mlp__fail(MLP_ERR_NONFINITE,
                         "mlp_model_save: layer %zu %s "
                         "element [%zu, %zu] is %g",
                         k, is_weight ? "weight" : "bias", r, c, v);
      for (size_t i = 0; i < m->elem; i++)
        le[i] = (unsigned char)(u >> (8 * i));
      if ((rc = st_sink_put(s, le, m->elem)) != MLP_OK)
        return rc;
    }
  return MLP_OK;
}

/* Serialises the whole file into s; *total receives its size. With
 * s NULL only the size is computed. */
static int st_serialise(const mlp_model *m, st_sink *s, size_t *total) {
  st_text h = {0};
  unsigned char len8[8];
  size_t size;
  int rc = st_build_header(m, &h);

  if (rc == MLP_OK) {
    size = 8 + h.len;
    for (size_t k = 1; k <= m->n_layers; k++)
      size += (m->layers[k - 1].in + 1) * m->layers[k - 1].out * m->elem;
    *total = size;
  }
  if (rc == MLP_OK && s) {
    for (int i = 0; i < 8; i++)
      len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    rc = st_sink_put(s, len8, 8);
    if (rc == MLP_OK)
      rc = st_sink_put(s, h.s, h.len);
    for (size_t k = 1; k <= m->n_layers && rc == MLP_OK; k++) {
      rc = st_put_tensor(s, m, k, 1);
      if (rc == MLP_OK)
        rc = st_put_tensor(s, m, k, 0);
    }
    if (rc == MLP_OK)
      rc = st_sink_flush(s);
  }
  mlp__free(h.s);
  return rc;
}

int mlp_model_save_buffer(const mlp_model *model, void *buf, size_t capacity,
                          size_t *size) {
  st_sink s = {0};
  size_t total = 0;
  int rc;
  if (!model || !size)
    return mlp__fail(MLP_ERR_NULL, "mlp_model_save_buffer: %s is NULL",
                     !model ? "model" : "size");
  if ((rc = st_serialise(model, NULL, &total)) != MLP_OK)
    return rc;
  *size = total;
  if (!buf)
    return MLP_OK;
  if (capacity < total)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_model_save_buffer: the file needs "
                     "%zu bytes, the buffer has %zu",
                     total, capacity);
  s.buf = buf;
  s.cap = capacity;
  s.fd = -1;
  return st_serialise(model, &s, &total);
}

int mlp_model_save(const mlp_model *model, const char *path) {
  static unsigned long counter;
  st_sink s = {0};
  size_t total, tmp_len;
  char *tmp = NULL;
  int rc, fd = -1;

  if (!model || !path)
    return mlp__fail(MLP_ERR_NULL, "mlp_model_save: %s is NULL",
                     !model ? "model" : "path");

  /* A fresh name next to path: "<path>.tmp-<pid>-<n>". */
  tmp_len = strlen(path) + 64;
  tmp = mlp__alloc(tmp_len);
  s.cap = 1 << 16;
  s.buf = mlp__alloc(s.cap);
  if (!tmp || !s.buf) {
    rc = mlp__fail(MLP_ERR_NOMEM, "mlp_model_save: no memory");
    goto done;
  }
  for (int attempt = 0; fd < 0; attempt++) {
    unsigned long n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    snprintf(tmp, tmp_len, "%s.tmp-%ld-%lu", path, (long)getpid(), n);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt > 100)) {
      rc = mlp__fail(MLP_ERR_IO, "%s: cannot create %s: %s", path, tmp,
                     strerror(errno));
      mlp__free(tmp);
      tmp = NULL;
      goto done;
    }
  }
  s.fd = fd;
  s.path = tmp;
  rc = st_serialise(model, &s, &total);
  if (rc == MLP_OK && fsync(fd) != 0)
    rc = mlp__fail(MLP_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
  if (close(fd) != 0 && rc == MLP_OK)
    rc = mlp__fail(MLP_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
  if (rc == MLP_OK && rename(tmp, path) != 0)
    rc = mlp__fail(MLP_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp,
                   strerror(errno));
  if (rc != MLP_OK) {
    unlink(tmp);
  } else {
    /* Make the rename itself durable. */
    char *slash = strrchr(tmp, '/');
    int dfd;
    if (slash == tmp)
      dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    else if (slash) {
      *slash = '\0';
      dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else
      dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)fsync(dfd);
      close(dfd);
    }
  }
done:
  mlp__free(tmp);
  mlp__free(s.buf);
  return rc;
}
