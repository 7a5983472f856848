// The HTTP sink's private side: checking its options and building it for the
// job-spec layer (errors under the section's path).
#ifndef RECOVERY_HTTP_HTTP_SINK_H_
#define RECOVERY_HTTP_HTTP_SINK_H_

#include <memory>
#include <string_view>

#include "recovery/http_sink.h"
#include "recovery/sink.h"
#include "util/field_errors.h"

namespace recovery {

// Adds every problem of `options` to `errors`, each under `path` ("sink").
// Reads no environment.
void CheckHttpSinkOptions(const HttpSinkOptions& options, std::string_view path, FieldErrors* errors);

// Checks `options`, resolves the auth secret and builds the sink; null with
// every problem (a missing secret among them) added under `path` when it cannot.
std::unique_ptr<Sink> BuildHttpSink(const HttpSinkOptions& options, std::string_view path,
                                    FieldErrors* errors);

}  // namespace recovery

#endif  // RECOVERY_HTTP_HTTP_SINK_H_
