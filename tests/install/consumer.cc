#include <cstdio>

#include "recovery/backfiller.h"
#include "recovery/version.h"

int main() {
  auto spec = recovery::JobSpec::Parse(
      R"({"name":"installed","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"}})");
  if (!spec.ok()) return 1;
  std::printf("recovery %s: %s\n", RECOVERY_VERSION_STRING, spec->name.c_str());
  return 0;
}
