/* c.h compiles as C99 on its own. */
#include "recovery/c.h"
int main(void) { return recovery_status_name(RECOVERY_OK)[0] == 'O' ? 0 : 1; }
