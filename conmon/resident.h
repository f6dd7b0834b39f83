// Keeping cricket-conmon's resident set small (target: 1 MiB per monitor).
#pragma once

namespace cricket::conmon {

// Unmaps from this process's page tables the pages of its own executable image that it only read
// (text and read-only data; never a writable or RELRO segment, whose pages may hold private changes):
// the start-up code (argument parsing, locale and stdio set-up, socket and pipe plumbing) faulted
// them in, together with their neighbours (the kernel maps up to 64 KiB around each fault). The
// steady-state loop faults back only what it runs, from the page cache. Nothing is dropped that the
// kernel could not read back from the file.
void DropStartupPages();

}  // namespace cricket::conmon
