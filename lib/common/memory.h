// The process's heap: how glibc's allocator is tuned for a long-running daemon whose bursts (a pull,
// a pod storm) run on many short-lived threads, and how memory freed by a burst goes back to the
// system.
#pragma once

namespace cricket {

// Call once at the start of main, before any thread starts. Caps glibc's per-thread arenas at two
// (each thread otherwise gets an arena of its own, up to 8 per core, whose free pages stay resident
// after the thread is gone) and fixes the mmap threshold at 256 KiB, so large buffers (layer pipes,
// read buffers) are mapped and unmapped whole instead of fragmenting an arena (glibc otherwise raises
// the threshold to the largest block freed so far).
void TuneAllocatorForDaemon();

// Gives the free pages of every arena back to the system (malloc_trim). Costs a walk of the free
// lists (milliseconds); call it after a burst, not in a loop.
void ReturnFreeMemory();

}  // namespace cricket
