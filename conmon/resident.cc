#include "conmon/resident.h"

#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace cricket::conmon {
namespace {

int DropReadOnlySegments(dl_phdr_info* info, size_t, void* data) {
  // The first object is the executable itself; stop after it.
  auto* done = static_cast<bool*>(data);
  if (*done) return 1;
  *done = true;
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
  return 1;
}

}  // namespace

void DropStartupPages() {
  bool done = false;
  dl_iterate_phdr(DropReadOnlySegments, &done);
}

}  // namespace cricket::conmon
