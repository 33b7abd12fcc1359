/*
 * main.c - the mlp program: fixes the OpenBLAS core if needed, then hands
 * the command line to the command named by its first argument.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "util.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"info", mlp_cmd_info, "show a model's layers, size, BLAS and kernels"},
    {"init", mlp_cmd_init, "create a model with initialised parameters"},
    {"run", mlp_cmd_run, "run the forward pass over a dataset"},
    {"eval", mlp_cmd_eval, "loss and accuracy of a model on a dataset"},
#ifdef MLP_TOOL_HAVE_TRAIN
    {"train", mlp_cmd_train, "train a model on a dataset"},
#endif
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
  fprintf(out,
          "usage: mlp COMMAND [OPTIONS] [ARGS]\n\n"
          "Batched multilayer perceptrons on CBLAS (libmlp %s).\n\n"
          "Commands:\n",
          mlp_version());
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(out, "  %-6s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n'mlp COMMAND --help' describes a command; 'man mlp' "
               "describes them all.\n"
               "Exit codes: 0 success, 1 error, 2 bad usage, 130 "
               "interrupted.\n");
}

int main(int argc, char **argv) {
  tool_blas_fix("mlp", argv);

  if (argc < 2) {
    tool_error("missing command: info, init, run, eval (try 'mlp --help')");
    return TOOL_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return TOOL_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("mlp %s\n", mlp_version());
    return TOOL_EXIT_OK;
  }
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(argv[1], commands[i].name) == 0) {
      static char name[32];
      snprintf(name, sizeof name, "mlp %s", commands[i].name);
      tool_set_name(name);
      tool_signals_install();
      return commands[i].run(argc - 1, argv + 1);
    }
  tool_error("unknown command '%s' (try 'mlp --help')", argv[1]);
  return TOOL_EXIT_USAGE;
}
