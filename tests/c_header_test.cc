// c.h compiles as C++ on its own.
#include "recovery/c.h"
int main() { return recovery_status_name(RECOVERY_OK)[0] == 'O' ? 0 : 1; }
