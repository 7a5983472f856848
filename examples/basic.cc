// The README's usage example, compiled so that it stays true.
#include <cstdio>

#include "recovery/backfiller.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto spec = recovery::JobSpec::FromFile(argv[1]);  // window, source, mapper, ...
  if (!spec.ok()) return std::fprintf(stderr, "%s\n", spec.status().ToString().c_str()), 2;

  recovery::Components components;  // inject where live records would arrive
  components.sink =
      recovery::NewCallbackSink([](const recovery::Shard& shard, absl::Span<const recovery::Record> batch) {
        for (const recovery::Record& r : batch) {
          std::printf("%.*s%s\n", static_cast<int>(r.payload.size()), r.payload.data(),
                      r.maybe_redelivered ? "  (check: may be a redelivery)" : "");
        }
        return absl::OkStatus();  // acknowledges the batch: the checkpoint moves past it
      });
  recovery::BackfillerOptions options;
  options.on_log = recovery::StderrLogger(recovery::LogLevel::kInfo);
  auto backfiller = recovery::Backfiller::Create(*spec, std::move(components), options);
  if (!backfiller.ok()) return std::fprintf(stderr, "%s\n", backfiller.status().ToString().c_str()), 2;
  recovery::RunResult result = (*backfiller)->Run();  // resumes from checkpoints
  std::fprintf(stderr, "%s, %llu records delivered\n", result.status.ToString().c_str(),
               static_cast<unsigned long long>(result.progress.totals.records_delivered));
  return result.status.ok() && result.complete ? 0 : 1;
}
