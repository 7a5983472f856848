#include "json/record_walker.h"

namespace recovery {
namespace walk {
namespace generic {
extern const Kernel kKernel;
}

const Kernel& BestKernel() { return generic::kKernel; }

}  // namespace walk
}  // namespace recovery
