// Test helpers: tar streams built in memory with libarchive's writer (pax), or by hand for headers a
// well-behaved writer refuses to produce.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cricket::storage::testing {

struct TarEntry {
  std::string path;
  // 'f' file, 'd' dir, 'l' symlink, 'h' hardlink, 'c' char dev, 'b' block dev, 'p' fifo.
  char type = 'f';
  std::string content;  // 'f'
  std::string link;     // 'l' target, 'h' target path
  uint32_t mode = 0644;
  uint32_t uid = ::geteuid();
  uint32_t gid = ::getegid();
  uint32_t major = 0;
  uint32_t minor = 0;
  int64_t mtime = 1600000000;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

TarEntry File(std::string path, std::string content, uint32_t mode = 0644);
TarEntry Dir(std::string path, uint32_t mode = 0755);
TarEntry Symlink(std::string path, std::string target);
TarEntry Hardlink(std::string path, std::string target);

// A pax tar of `entries`, ending with the two zero blocks and padded to 10240 bytes like tar(1).
std::string BuildTar(const std::vector<TarEntry>& entries);

// One raw ustar header block for `name` with typeflag `type` and a declared `size`, encoded in
// base-256 when it does not fit the octal field. No data follows.
std::string RawHeader(const std::string& name, char type, uint64_t size, const std::string& link = "");

// One sparse file as a pax entry in GNU sparse format 1.0 (GNU.sparse.* records; the map of
// `segments`, offset and data each, opens the entry's data), declaring `size` bytes: everything outside
// the segments is a hole. No end-of-archive blocks: append entries, then std::string(1024, '\0').
std::string SparseEntry(const std::string& name, uint64_t size,
                        const std::vector<std::pair<uint64_t, std::string>>& segments);

// sha256 of `data` as "sha256:<hex>".
std::string Sha256(const std::string& data);

}  // namespace cricket::storage::testing
