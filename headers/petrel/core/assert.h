// Invariant checks. PETREL_ASSERT is for beliefs about our own code (debug builds abort);
// anything a remote peer can trigger must be handled, never asserted.
#pragma once

#include <cstdio>
#include <cstdlib>

#ifndef NDEBUG
#define PETREL_ASSERT(cond)                                                          \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)
#else
#define PETREL_ASSERT(cond) ((void)0)
#endif
