#include "lib/sys/resident.h"

#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace cricket::sys {
namespace {

struct DropScope {
  bool all_objects = false;
  bool done = false;
};

int DropReadOnlySegments(dl_phdr_info* info, size_t, void* data) {
  // The first object is the executable itself; shared libraries follow (the vDSO has no file behind it).
  auto* scope = static_cast<DropScope*>(data);
  if (scope->done) return 1;
  scope->done = !scope->all_objects;
  if (info->dlpi_name != nullptr && std::strstr(info->dlpi_name, "linux-vdso") != nullptr) return 0;
  uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t relro_lo = 0, relro_hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_GNU_RELRO) {
      relro_lo = info->dlpi_addr + ph.p_vaddr;
      relro_hi = relro_lo + ph.p_memsz;
    }
  }
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) != 0) continue;
    uintptr_t lo = (info->dlpi_addr + ph.p_vaddr) & ~(page - 1);
    uintptr_t hi = (info->dlpi_addr + ph.p_vaddr + ph.p_filesz) & ~(page - 1);  // whole file pages only
    if (relro_hi > relro_lo && lo < relro_hi && relro_lo < hi + page) continue;
    if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
  }
  return 0;
}

}  // namespace

void DropStartupPages(bool shared_libraries) {
  DropScope scope{shared_libraries, false};
  dl_iterate_phdr(DropReadOnlySegments, &scope);
}

}  // namespace cricket::sys
