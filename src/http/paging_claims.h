// What an HTTP source assumes about its API (PagingClaims), read from its
// config, for `recovery probe`.
#ifndef RECOVERY_HTTP_PAGING_CLAIMS_H_
#define RECOVERY_HTTP_PAGING_CLAIMS_H_

#include <memory>

#include "http/http_config.h"
#include "recovery/source.h"

namespace recovery {

// Borrows `config`, which must outlive the claims.
std::unique_ptr<PagingClaims> NewHttpPagingClaims(const HttpConfig& config);

}  // namespace recovery

#endif  // RECOVERY_HTTP_PAGING_CLAIMS_H_
