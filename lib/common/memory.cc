#include "lib/common/memory.h"

#include <malloc.h>

namespace cricket {

void TuneAllocatorForDaemon() {
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
}

void ReturnFreeMemory() { malloc_trim(0); }

}  // namespace cricket
