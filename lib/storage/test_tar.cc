#include "lib/storage/test_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>

#include "lib/common/digest.h"

namespace cricket::storage::testing {

TarEntry File(std::string path, std::string content, uint32_t mode) {
  TarEntry e;
  e.path = std::move(path);
  e.content = std::move(content);
  e.mode = mode;
  return e;
}

TarEntry Dir(std::string path, uint32_t mode) {
  TarEntry e;
  e.path = std::move(path);
  e.type = 'd';
  e.mode = mode;
  return e;
}

TarEntry Symlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.type = 'l';
  e.link = std::move(target);
  e.mode = 0777;
  return e;
}

TarEntry Hardlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.type = 'h';
  e.link = std::move(target);
  return e;
}

namespace {

la_ssize_t Append(struct archive*, void* ctx, const void* buf, size_t n) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

mode_t TypeBits(char type) {
  switch (type) {
    case 'd':
      return AE_IFDIR;
    case 'l':
      return AE_IFLNK;
    case 'c':
      return AE_IFCHR;
    case 'b':
      return AE_IFBLK;
    case 'p':
      return AE_IFIFO;
    default:
      return AE_IFREG;
  }
}

}  // namespace

std::string BuildTar(const std::vector<TarEntry>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_per_block(a, 10240);
  archive_write_open(a, &out, nullptr, Append, nullptr);
  for (const TarEntry& t : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_filetype(e, TypeBits(t.type));
    archive_entry_set_perm(e, t.mode);
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, t.mtime, 0);
    if (t.type == 'l') archive_entry_set_symlink(e, t.link.c_str());
    if (t.type == 'h') archive_entry_set_hardlink(e, t.link.c_str());
    if (t.type == 'c' || t.type == 'b') {
      archive_entry_set_rdevmajor(e, t.major);
      archive_entry_set_rdevminor(e, t.minor);
    }
    for (const auto& [name, value] : t.xattrs) {
      archive_entry_xattr_add_entry(e, name.c_str(), value.data(), value.size());
    }
    archive_entry_set_size(e, t.type == 'f' ? static_cast<la_int64_t>(t.content.size()) : 0);
    archive_write_header(a, e);
    if (t.type == 'f' && !t.content.empty()) archive_write_data(a, t.content.data(), t.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

std::string RawHeader(const std::string& name, char type, uint64_t size, const std::string& link) {
  char h[512];
  std::memset(h, 0, sizeof(h));
  std::strncpy(h, name.c_str(), 100);
  std::snprintf(h + 100, 8, "%07o", 0644);
  std::snprintf(h + 108, 8, "%07o", static_cast<unsigned>(::geteuid()));
  std::snprintf(h + 116, 8, "%07o", static_cast<unsigned>(::getegid()));
  if (size < (uint64_t{1} << 33)) {
    std::snprintf(h + 124, 12, "%011llo", static_cast<unsigned long long>(size));
  } else {
    h[124] = static_cast<char>(0x80);  // base-256: big-endian in the remaining 11 bytes
    for (int i = 0; i < 8; ++i) h[135 - i] = static_cast<char>((size >> (8 * i)) & 0xff);
  }
  std::snprintf(h + 136, 12, "%011o", 1600000000);
  h[156] = type;
  std::strncpy(h + 157, link.c_str(), 100);
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
  return std::string(h, sizeof(h));
}

namespace {

std::string Padded(std::string data) {
  data.append((512 - data.size() % 512) % 512, '\0');
  return data;
}

std::string PaxRecord(const std::string& key, const std::string& value) {
  size_t body = key.size() + value.size() + 3;
  size_t len = body + 1;
  while (std::to_string(len).size() + body != len) ++len;
  return std::to_string(len) + " " + key + "=" + value + "\n";
}

}  // namespace

std::string SparseEntry(const std::string& name, uint64_t size,
                        const std::vector<std::pair<uint64_t, std::string>>& segments) {
  std::string pax = PaxRecord("GNU.sparse.major", "1") + PaxRecord("GNU.sparse.minor", "0") +
                    PaxRecord("GNU.sparse.name", name) +
                    PaxRecord("GNU.sparse.realsize", std::to_string(size));
  std::string map = std::to_string(segments.size()) + "\n";
  std::string data;
  for (const auto& [offset, bytes] : segments) {
    map += std::to_string(offset) + "\n" + std::to_string(bytes.size()) + "\n";
    data += bytes;
  }
  // The size field counts the map's blocks and the data, not the data's padding (as GNU tar writes).
  std::string body = Padded(map) + data;
  return RawHeader("PaxHeaders/" + name, 'x', pax.size()) + Padded(pax) +
         RawHeader("GNUSparseFile.0/" + name, '0', body.size()) + Padded(body);
}

std::string Sha256(const std::string& data) { return Digest::Sha256Of(data).ToString(); }

}  // namespace cricket::storage::testing
