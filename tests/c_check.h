/* The C tests' one assertion: CHECK(cond) counts a pass or a failure (printed
 * with its line) and goes on; C_CHECK_SUMMARY() prints "N passed, N failed"
 * and is the exit code. For the C files of tests/ only. */
#ifndef RECOVERY_TESTS_C_CHECK_H_
#define RECOVERY_TESTS_C_CHECK_H_

#include <stdio.h>

static int passed = 0, failed = 0;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      ++passed;                                                                \
    } else {                                                                   \
      ++failed;                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)
#define C_CHECK_SUMMARY() (printf("%d passed, %d failed\n", passed, failed), failed == 0 ? 0 : 1)

#endif /* RECOVERY_TESTS_C_CHECK_H_ */
