// Lexical path helpers. They never touch the filesystem; resolving symlinks safely inside a root is
// lib/sys's job (openat2 with RESOLVE_IN_ROOT).
#pragma once

#include <string>
#include <string_view>

namespace cricket {

// Like Go's filepath.Clean: collapses "//", "." and "..", drops a trailing slash; "" → ".".
std::string CleanPath(std::string_view path);

// Joins and cleans: JoinPath("/a", "b/../c") == "/a/c". An absolute `rel` is still appended under base.
std::string JoinPath(std::string_view base, std::string_view rel);

// Joins `unsafe` under `root` so that the result can never be above root lexically ("../../etc" stays
// inside). Symlinks are not considered.
std::string LexicalJoinInRoot(std::string_view root, std::string_view unsafe);

std::string DirName(std::string_view path);
std::string BaseName(std::string_view path);

}  // namespace cricket
