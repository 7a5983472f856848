// abseil 20220623 has no status macros; these are ours.
#ifndef RECOVERY_UTIL_STATUS_MACROS_H_
#define RECOVERY_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RECOVERY_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::absl::Status recovery_status_ = (expr);            \
    if (!recovery_status_.ok()) return recovery_status_; \
  } while (0)

#define RECOVERY_CONCAT_INNER_(a, b) a##b
#define RECOVERY_CONCAT_(a, b) RECOVERY_CONCAT_INNER_(a, b)

#define RECOVERY_ASSIGN_OR_RETURN(lhs, rexpr) \
  RECOVERY_ASSIGN_OR_RETURN_IMPL_(RECOVERY_CONCAT_(recovery_statusor_, __LINE__), lhs, rexpr)

// `lhs` may be a declaration ("auto x"), so it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define RECOVERY_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                    \
  if (!statusor.ok()) return std::move(statusor).status();    \
  lhs = *std::move(statusor)
// NOLINTEND(bugprone-macro-parentheses)

#endif  // RECOVERY_UTIL_STATUS_MACROS_H_
