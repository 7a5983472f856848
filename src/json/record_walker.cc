#include "json/record_walker.h"

#include "simdjson.h"

namespace recovery {
namespace walk {
namespace generic {
extern const Kernel kKernel;
}
#if defined(RECOVERY_HAVE_HASWELL_WALKER)
namespace haswell {
extern const Kernel kKernel;
}
#endif

const Kernel& BestKernel() {
  static const Kernel& kernel = []() -> const Kernel& {
#if defined(RECOVERY_HAVE_HASWELL_WALKER)
    // simdjson's own CPU detection decides, as it does for its DOM parser.
    const simdjson::implementation* haswell = simdjson::get_available_implementations()["haswell"];
    if (haswell != nullptr && haswell->supported_by_runtime_system()) return haswell::kKernel;
#endif
    return generic::kKernel;
  }();
  return kernel;
}

}  // namespace walk
}  // namespace recovery
