// Keeping a long-running process's resident set small: cricket-conmon (target 1 MiB per monitor) and
// cricketd (edge nodes).
#pragma once

namespace cricket::sys {

// Unmaps from this process's page tables the pages of its own executable image that it only read
// (text and read-only data; never a writable or RELRO segment, whose pages may hold private changes):
// the start-up code (argument parsing, configuration, static initialisers, socket set-up) faulted
// them in, together with their neighbours (the kernel maps up to 64 KiB around each fault). The
// steady-state loop faults back only what it runs, from the page cache. Nothing is dropped that the
// kernel could not read back from the file. With `shared_libraries`, the read-only segments of every
// loaded shared object are dropped too (a dynamically linked daemon such as cricketd).
void DropStartupPages(bool shared_libraries = false);

}  // namespace cricket::sys
