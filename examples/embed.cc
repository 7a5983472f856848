// Embedding without a job file or any JSON configuration: the HTTP source,
// the mapper and a callback sink built from typed options, run by the engine.
//
//   recovery_embed_example BASE_URL
//
// BASE_URL serves GET /v1/offset?from=…&to=…&offset=…&limit=… answering
// {"data":[{"id":…,"created_at":…},…]} (the simulated vendor API of the
// tests does). Set VENDOR_TOKEN to send it as a bearer token.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "recovery/backfiller.h"
#include "recovery/http_source.h"
#include "recovery/json_mapper.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
    return 2;
  }
  recovery::HttpSourceOptions http;
  http.url = std::string(argv[1]) + "/v1/offset";
  http.query = {{"from", "{start}"}, {"to", "{end}"}, {"offset", "{offset}"}, {"limit", "{limit}"}};
  http.records = "/data";
  http.page_size = 100;
  http.pagination.type = recovery::HttpPaging::kOffset;
  if (std::getenv("VENDOR_TOKEN") != nullptr) {
    http.auth.type = recovery::HttpAuthType::kBearer;
    http.auth.secret.env = "VENDOR_TOKEN";  // read now, by NewHttpSource; never logged
  }

  recovery::Components components;
  auto source = recovery::NewHttpSource(http);
  recovery::JsonMapperOptions mapping;
  mapping.fields.push_back({.name = "id", .from = "/id", .required = true});
  mapping.fields.push_back(
      {.name = "created_at", .from = "/created_at", .type = recovery::JsonFieldType::kTimestamp});
  mapping.key_from = {"/id"};
  mapping.event_time_from = "/created_at";
  auto mapper = recovery::NewJsonMapper(mapping);
  if (!source.ok() || !mapper.ok()) {
    std::fprintf(stderr, "%s\n", (!source.ok() ? source.status() : mapper.status()).ToString().c_str());
    return 1;
  }
  components.source = *std::move(source);
  components.mapper = *std::move(mapper);
  std::atomic<long> delivered{0};
  components.sink =
      recovery::NewCallbackSink([&](const recovery::Shard&, absl::Span<const recovery::Record> batch) {
        delivered += static_cast<long>(batch.size());  // where a service injects into its live flow
        return absl::OkStatus();
      });
  components.checkpoints = recovery::NewMemoryCheckpointStore();  // a file store in production
  components.dead_letters = recovery::NewMemoryDeadLetterStore();

  recovery::JobSpec job;  // the window and how to split it: a plain struct
  job.name = "embedded";
  job.start = absl::FromUnixSeconds(1793491200);  // 2026-11-01T00:00:00Z
  job.end = job.start + absl::Hours(24);
  job.shard_duration = absl::Hours(6);
  job.concurrency = 4;

  auto backfiller = recovery::Backfiller::Create(job, std::move(components));
  if (!backfiller.ok()) {
    std::fprintf(stderr, "%s\n", backfiller.status().ToString().c_str());
    return 1;
  }
  recovery::RunResult result = (*backfiller)->Run();
  std::printf("%s: %ld records delivered\n", std::string(recovery::RunOutcomeName(result.outcome)).c_str(),
              delivered.load());
  return result.outcome == recovery::RunOutcome::kDone ? 0 : 1;
}
