// Symbol visibility for the public API. The library builds with hidden
// visibility; only what is marked RECOVERY_EXPORT is part of the ABI.
#ifndef RECOVERY_EXPORT_H_
#define RECOVERY_EXPORT_H_

#if defined(_WIN32)
#define RECOVERY_EXPORT
#else
#define RECOVERY_EXPORT __attribute__((visibility("default")))
#endif

#endif  // RECOVERY_EXPORT_H_
