/* version.c - the version of the library that is loaded. */
#include "internal.h"

const char *mlp_version(void) { return MLP_VERSION_STRING; }

int mlp_version_number(void) { return MLP_VERSION_NUMBER; }
