/* fuzz_csv.c - libFuzzer target: arbitrary bytes read as a CSV dataset. */
#include "fuzz_dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_dataset(data, size, MLP_FORMAT_CSV);
  return 0;
}
