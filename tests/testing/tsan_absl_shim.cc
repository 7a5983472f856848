// ThreadSanitizer builds only. Debian's abseil is not built with TSan, so the
// happens-before edges of absl::Mutex and absl::Notification, which live in
// its shared library, are invisible and every access they protect would be
// reported as a race. These definitions take the place of the library's
// entry points in the executable, tell TSan about the acquire and release,
// and call the real functions (found with dlsym(RTLD_NEXT)).
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

template <typename F>
F Real(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) std::abort();
  return reinterpret_cast<F>(f);
}

using Mu = absl::Mutex;
using Cond = absl::Condition;

}  // namespace

#define RECOVERY_TSAN_LOCK(mangled)                   \
  extern "C" void mangled(Mu* mu) {                   \
    static auto real = Real<void (*)(Mu*)>(#mangled); \
    real(mu);                                         \
    __tsan_acquire(mu);                               \
  }
#define RECOVERY_TSAN_UNLOCK(mangled)                 \
  extern "C" void mangled(Mu* mu) {                   \
    static auto real = Real<void (*)(Mu*)>(#mangled); \
    __tsan_release(mu);                               \
    real(mu);                                         \
  }
#define RECOVERY_TSAN_TRYLOCK(mangled)                \
  extern "C" bool mangled(Mu* mu) {                   \
    static auto real = Real<bool (*)(Mu*)>(#mangled); \
    const bool got = real(mu);                        \
    if (got) __tsan_acquire(mu);                      \
    return got;                                       \
  }
#define RECOVERY_TSAN_WHEN(mangled, ...)                                          \
  extern "C" bool mangled(Mu* mu, const Cond& c, ##__VA_ARGS__ arg) {             \
    static auto real = Real<bool (*)(Mu*, const Cond&, ##__VA_ARGS__)>(#mangled); \
    const bool r = real(mu, c, arg);                                              \
    __tsan_acquire(mu);                                                           \
    return r;                                                                     \
  }
// Await* release the mutex while waiting and hold it again on return.
#define RECOVERY_TSAN_AWAIT(mangled, ...)                                         \
  extern "C" bool mangled(Mu* mu, const Cond& c, ##__VA_ARGS__ arg) {             \
    static auto real = Real<bool (*)(Mu*, const Cond&, ##__VA_ARGS__)>(#mangled); \
    __tsan_release(mu);                                                           \
    const bool r = real(mu, c, arg);                                              \
    __tsan_acquire(mu);                                                           \
    return r;                                                                     \
  }

RECOVERY_TSAN_LOCK(_ZN4absl7debian35Mutex4LockEv)
RECOVERY_TSAN_LOCK(_ZN4absl7debian35Mutex10ReaderLockEv)
RECOVERY_TSAN_UNLOCK(_ZN4absl7debian35Mutex6UnlockEv)
RECOVERY_TSAN_UNLOCK(_ZN4absl7debian35Mutex12ReaderUnlockEv)
RECOVERY_TSAN_TRYLOCK(_ZN4absl7debian35Mutex7TryLockEv)
RECOVERY_TSAN_TRYLOCK(_ZN4absl7debian35Mutex13ReaderTryLockEv)
RECOVERY_TSAN_WHEN(_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE,
                   absl::Duration)
RECOVERY_TSAN_WHEN(_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE, absl::Time)
RECOVERY_TSAN_AWAIT(_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE, absl::Duration)
RECOVERY_TSAN_AWAIT(_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE, absl::Time)

extern "C" void _ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE(Mu* mu, const Cond& c) {
  static auto real = Real<void (*)(Mu*, const Cond&)>("_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  real(mu, c);
  __tsan_acquire(mu);
}

extern "C" void _ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(Mu* mu, const Cond& c) {
  static auto real = Real<void (*)(Mu*, const Cond&)>("_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(mu);
  real(mu, c);
  __tsan_acquire(mu);
}

// CondVar::Wait releases the mutex while it waits and holds it again on return.
extern "C" void _ZN4absl7debian37CondVar4WaitEPNS0_5MutexE(absl::CondVar* cv, Mu* mu) {
  static auto real = Real<void (*)(absl::CondVar*, Mu*)>("_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(cv, mu);
  __tsan_acquire(mu);
}

extern "C" void _ZN4absl7debian312Notification6NotifyEv(absl::Notification* n) {
  static auto real = Real<void (*)(absl::Notification*)>("_ZN4absl7debian312Notification6NotifyEv");
  __tsan_release(n);
  real(n);
}

extern "C" void _ZNK4absl7debian312Notification19WaitForNotificationEv(const absl::Notification* n) {
  static auto real =
      Real<void (*)(const absl::Notification*)>("_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(n);
  __tsan_acquire(const_cast<absl::Notification*>(n));
}

extern "C" bool _ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE(
    const absl::Notification* n, absl::Duration d) {
  static auto real = Real<bool (*)(const absl::Notification*, absl::Duration)>(
      "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool r = real(n, d);
  if (r) __tsan_acquire(const_cast<absl::Notification*>(n));
  return r;
}
