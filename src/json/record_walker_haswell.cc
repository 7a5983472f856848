// Built with AVX2/BMI/PCLMUL flags (see CMakeLists.txt) so that simdjson's
// On-Demand uses its haswell kernel; only run where the CPU has them.
#define RECOVERY_WALKER_NS haswell
#define RECOVERY_WALKER_NAME "haswell"
#include "json/record_walker_kernel.inc"
