#define RECOVERY_WALKER_NS generic
#define RECOVERY_WALKER_NAME "generic"
#include "json/record_walker_kernel.inc"
#undef RECOVERY_WALKER_NAME
#undef RECOVERY_WALKER_NS
