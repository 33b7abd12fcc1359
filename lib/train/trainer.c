/*
 * trainer.c - mini-batch gradient descent over an in-memory dataset:
 * seeded shuffle per epoch, forward, backward, optimiser step; validation
 * and early stopping per epoch. All memory is allocated when the trainer
 * is created; a step allocates nothing.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "train.h"

struct mlp_trainer {
  mlp_model *model;
  mlp_train_config cfg;
  size_t rows_max;
  mlp_ctx *ctx; /* MLP_CTX_KEEP, batch_size rows */
  mlp_grad *grad;
  mlp_optim *optim;
  size_t *perm;   /* rows_max */
  void *xb;       /* the batch's inputs, batch_size x widths[0] */
  int32_t *lb;    /* its labels */
  void *tb;       /* its targets, batch_size x widths[N] */
  void *out;      /* forward output, batch_size x widths[N] */
  void *best;     /* best parameters (restore_best), or NULL */
  int total_set;  /* the cosine length was filled in */
  uint64_t epoch; /* epochs done */
  double best_loss;
  uint64_t best_epoch;
  uint64_t since_best;
};

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void mlp_train_config_default(mlp_train_config *config) {
  if (config == NULL)
    return;
  memset(config, 0, sizeof *config);
  config->loss = MLP_LOSS_CROSS_ENTROPY;
  config->batch_size = 128;
  config->epochs = 10;
  mlp_optim_config_default(&config->optim, MLP_OPTIM_ADAM);
  config->min_delta = 0.0;
}

void mlp_trainer_free(mlp_trainer *t) {
  if (t == NULL)
    return;
  mlp__free(t->best);
  mlp__free(t->out);
  mlp__free(t->tb);
  mlp__free(t->lb);
  mlp__free(t->xb);
  mlp__free(t->perm);
  mlp_optim_free(t->optim);
  mlp_grad_free(t->grad);
  mlp_ctx_free(t->ctx);
  mlp__free(t);
}

int mlp_trainer_create(mlp_trainer **trainer, mlp_model *model,
                       const mlp_train_config *config, size_t rows_max) {
  mlp_trainer *t;
  mlp_optim_config oc;
  size_t in, out, nb;
  mlp_act last;
  int status;

  if (trainer == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_trainer_create: trainer is NULL");
  *trainer = NULL;
  if (model == NULL || config == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_trainer_create: %s is NULL",
                     model == NULL ? "model" : "config");
  if (config->batch_size == 0 || config->epochs == 0 || rows_max == 0)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_trainer_create: batch_size, epochs and rows_max "
                     "must be > 0 (got %zu, %llu, %zu)",
                     config->batch_size, (unsigned long long)config->epochs,
                     rows_max);
  if (!(config->min_delta >= 0.0))
    return mlp__fail(MLP_ERR_ARG, "mlp_trainer_create: min_delta must be >= 0");
  last = model->layers[model->n_layers - 1].act;
  if (mlp_loss_name(config->loss) == NULL ||
      (config->loss == MLP_LOSS_CROSS_ENTROPY && last != MLP_ACT_SOFTMAX) ||
      (config->loss == MLP_LOSS_BCE && last != MLP_ACT_SIGMOID))
    return mlp__fail(MLP_ERR_LOSS,
                     "mlp_trainer_create: loss %d does not fit a %s last "
                     "layer (cross_entropy needs softmax, bce sigmoid)",
                     (int)config->loss, mlp_act_name(last));

  t = mlp__calloc(1, sizeof *t);
  if (t == NULL)
    return mlp__fail(MLP_ERR_NOMEM, "mlp_trainer_create: out of memory");
  t->model = model;
  t->cfg = *config;
  t->rows_max = rows_max;
  t->best_loss = INFINITY;

  /* A cosine schedule without a length gets epochs x batches per epoch
   * at the first fit; until then a placeholder passes validation. */
  oc = config->optim;
  if (oc.schedule == MLP_SCHEDULE_COSINE && oc.total == 0)
    oc.total = 1;
  else
    t->total_set = 1;

  nb = config->batch_size;
  in = model->widths[0];
  out = model->widths[model->n_layers];
  status = mlp_ctx_create(&t->ctx, model, nb, MLP_CTX_KEEP, NULL, 0);
  if (status == MLP_OK)
    status = mlp_grad_create(&t->grad, model, nb);
  if (status == MLP_OK)
    status = mlp_optim_create(&t->optim, model, &oc);
  if (status != MLP_OK) {
    mlp_trainer_free(t);
    return status;
  }
  t->perm = mlp__calloc(rows_max, sizeof *t->perm);
  t->xb = mlp__calloc(nb * in, model->elem);
  t->lb = mlp__calloc(nb, sizeof *t->lb);
  t->tb = mlp__calloc(nb * out, model->elem);
  t->out = mlp__calloc(nb * out, model->elem);
  if (config->restore_best)
    t->best = mlp__calloc(model->n_params, model->elem);
  if (t->perm == NULL || t->xb == NULL || t->lb == NULL || t->tb == NULL ||
      t->out == NULL || (config->restore_best && t->best == NULL)) {
    mlp_trainer_free(t);
    return mlp__fail(MLP_ERR_NOMEM,
                     "mlp_trainer_create: out of memory for "
                     "%zu rows of batches",
                     nb);
  }
  *trainer = t;
  return MLP_OK;
}

static int check_data(const mlp_trainer *t, const mlp_train_data *d,
                      const char *what) {
  if (d->x == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_trainer: %s x is NULL", what);
  if (d->rows == 0)
    return mlp__fail(MLP_ERR_ARG, "mlp_trainer: %s data has 0 rows", what);
  if (t->cfg.loss == MLP_LOSS_CROSS_ENTROPY && d->labels == NULL)
    return mlp__fail(MLP_ERR_NULL,
                     "mlp_trainer: %s labels are NULL "
                     "(cross_entropy needs them)",
                     what);
  if (t->cfg.loss != MLP_LOSS_CROSS_ENTROPY && d->targets == NULL)
    return mlp__fail(MLP_ERR_NULL,
                     "mlp_trainer: %s targets are NULL (%s "
                     "needs them)",
                     what, mlp_loss_name(t->cfg.loss));
  return MLP_OK;
}

/* Forward pass and loss of rows already in place (x, labels, targets);
 * adds the loss sum and the correct count. */
static int batch_forward(mlp_trainer *t, const void *x, const int32_t *lb,
                         const void *tb, size_t rows, double *loss_sum,
                         double *correct, double *batch_loss) {
  const mlp_model *m = t->model;
  size_t out = m->widths[m->n_layers];
  double mean, acc;
  int status;

  status = mlp_forward(m, t->ctx, x, rows, t->out);
  if (status == MLP_OK)
    status = mlp_ctx_loss(t->ctx, t->cfg.loss, lb, tb, NULL, &mean);
  if (status != MLP_OK)
    return status;
  if (!isfinite(mean))
    return mlp__fail(MLP_ERR_NONFINITE,
                     "mlp_trainer: the loss of a batch is %g (lower the "
                     "learning rate?)",
                     mean);
  *loss_sum += mean * (double)rows;
  if (batch_loss != NULL)
    *batch_loss = mean;
  if (lb != NULL) {
    status = mlp_accuracy(m->dtype, t->out, rows, out, lb, &acc);
    if (status != MLP_OK)
      return status;
    *correct += acc * (double)rows;
  }
  return MLP_OK;
}

int mlp_trainer_evaluate(mlp_trainer *t, const mlp_train_data *data,
                         double *loss, double *accuracy) {
  const mlp_model *m;
  size_t in, out, nb;
  double loss_sum = 0.0, correct = 0.0;
  int status;

  if (t == NULL || data == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_trainer_evaluate: %s is NULL",
                     t == NULL ? "trainer" : "data");
  status = check_data(t, data, "evaluation");
  if (status != MLP_OK)
    return status;
  m = t->model;
  in = m->widths[0];
  out = m->widths[m->n_layers];
  nb = t->cfg.batch_size;
  for (size_t r = 0; r < data->rows; r += nb) {
    size_t rows = data->rows - r < nb ? data->rows - r : nb;
    const void *x = (const char *)data->x + r * in * m->elem;
    const int32_t *lb = data->labels != NULL ? data->labels + r : NULL;
    const void *tb = data->targets != NULL
                         ? (const char *)data->targets + r * out * m->elem
                         : NULL;
    status = batch_forward(t, x, lb, tb, rows, &loss_sum, &correct, NULL);
    if (status != MLP_OK)
      return status;
  }
  if (loss != NULL)
    *loss = loss_sum / (double)data->rows;
  if (accuracy != NULL)
    *accuracy = data->labels != NULL ? correct / (double)data->rows : NAN;
  return MLP_OK;
}

/* Copies the rows perm[0..rows) of d into the trainer's batch buffers. */
static void gather(mlp_trainer *t, const mlp_train_data *d, const size_t *perm,
                   size_t rows) {
  const mlp_model *m = t->model;
  size_t xs = m->widths[0] * m->elem;
  size_t ts = m->widths[m->n_layers] * m->elem;

  for (size_t i = 0; i < rows; i++) {
    size_t r = perm[i];
    memcpy((char *)t->xb + i * xs, (const char *)d->x + r * xs, xs);
    if (d->labels != NULL)
      t->lb[i] = d->labels[r];
    if (d->targets != NULL)
      memcpy((char *)t->tb + i * ts, (const char *)d->targets + r * ts, ts);
  }
}

/* Puts the best parameters back, when they are kept. */
static void restore_best(mlp_trainer *t) {
  if (t->best != NULL && t->best_epoch > 0)
    memcpy(t->model->params, t->best, t->model->n_params * t->model->elem);
}

/* One epoch of steps; fills s's training fields. */
static int run_epoch(mlp_trainer *t, const mlp_train_data *train,
                     mlp_train_stats *s, double start) {
  size_t nb = t->cfg.batch_size;
  double loss_sum = 0.0, correct = 0.0;
  uint64_t state = t->cfg.seed ^ (0x9E3779B97F4A7C15ull * s->epoch);
  int have_labels = train->labels != NULL;
  int status;

  mlp__rng_next(&state);
  mlp__shuffle(t->perm, train->rows, &state);
  for (size_t r = 0; r < train->rows; r += nb) {
    size_t rows = train->rows - r < nb ? train->rows - r : nb;

    gather(t, train, t->perm + r, rows);
    status = batch_forward(t, t->xb, have_labels ? t->lb : NULL,
                           train->targets != NULL ? t->tb : NULL, rows,
                           &loss_sum, &correct, &s->batch_loss);
    if (status == MLP_OK)
      status = mlp_backward(t->model, t->ctx, t->xb, rows, t->cfg.loss,
                            have_labels ? t->lb : NULL,
                            train->targets != NULL ? t->tb : NULL, t->grad);
    s->lr = mlp_optim_lr(t->optim);
    if (status == MLP_OK)
      status = mlp_optim_step(t->optim, t->model, t->grad);
    if (status != MLP_OK)
      return status;

    s->step = mlp_optim_steps(t->optim);
    s->rows_done = r + rows;
    s->train_loss = loss_sum / (double)s->rows_done;
    s->train_accuracy = have_labels ? correct / (double)s->rows_done : NAN;
    s->seconds = seconds_now() - start;
    if (t->cfg.on_step != NULL && t->cfg.on_step(s, t->cfg.user) != 0)
      return mlp__fail(MLP_ERR_INTERRUPTED,
                       "mlp_trainer_fit: stopped on request in epoch %llu "
                       "after step %llu",
                       (unsigned long long)s->epoch,
                       (unsigned long long)s->step);
  }
  return MLP_OK;
}

int mlp_trainer_fit(mlp_trainer *t, const mlp_train_data *train,
                    const mlp_train_data *val, mlp_train_stats *final) {
  mlp_train_stats s;
  int status;

  if (t == NULL || train == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_trainer_fit: %s is NULL",
                     t == NULL ? "trainer" : "train");
  status = check_data(t, train, "training");
  if (status == MLP_OK && val != NULL)
    status = check_data(t, val, "validation");
  if (status != MLP_OK)
    return status;
  if (train->rows > t->rows_max)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_trainer_fit: %zu training rows exceed the "
                     "trainer's rows_max %zu",
                     train->rows, t->rows_max);
  if (!t->total_set) {
    uint64_t per_epoch =
        (train->rows + t->cfg.batch_size - 1) / t->cfg.batch_size;
    mlp__optim_set_total(t->optim, per_epoch * t->cfg.epochs);
    t->total_set = 1;
  }

  memset(&s, 0, sizeof s);
  for (uint64_t e = 0; e < t->cfg.epochs; e++) {
    double start = seconds_now(), metric;

    s.epoch = t->epoch + 1;
    s.rows_total = train->rows;
    s.rows_done = 0;
    s.val_loss = NAN;
    s.val_accuracy = NAN;
    s.improved = 0;
    s.stopping = 0;
    status = run_epoch(t, train, &s, start);
    if (status != MLP_OK)
      break;
    t->epoch++;
    if (val != NULL) {
      status = mlp_trainer_evaluate(t, val, &s.val_loss, &s.val_accuracy);
      if (status != MLP_OK)
        break;
    }

    /* Early stopping watches the validation loss, else the training
     * loss. */
    metric = val != NULL ? s.val_loss : s.train_loss;
    if (metric < t->best_loss - t->cfg.min_delta) {
      t->best_loss = metric;
      t->best_epoch = s.epoch;
      t->since_best = 0;
      s.improved = 1;
      if (t->best != NULL)
        memcpy(t->best, t->model->params, t->model->n_params * t->model->elem);
    } else {
      t->since_best++;
    }
    s.best_loss = t->best_loss;
    s.best_epoch = t->best_epoch;
    s.stopping = t->cfg.patience > 0 && t->since_best >= t->cfg.patience;
    s.seconds = seconds_now() - start;
    if (t->cfg.on_epoch != NULL && t->cfg.on_epoch(&s, t->cfg.user) != 0) {
      status = mlp__fail(MLP_ERR_INTERRUPTED,
                         "mlp_trainer_fit: stopped on request after epoch "
                         "%llu",
                         (unsigned long long)s.epoch);
      break;
    }
    if (s.stopping)
      break;
  }
  if (t->cfg.restore_best)
    restore_best(t);
  if (final != NULL)
    *final = s;
  return status;
}
