#include "test/support/crafted_layers.h"

#include <cstring>

#include "lib/common/strings.h"

namespace cricket::testing {

namespace {

constexpr uint64_t kBlock = 512;
constexpr uint64_t kRepeatChunk = uint64_t{64} << 20;

uint64_t PadLen(uint64_t n) { return (kBlock - n % kBlock) % kBlock; }

void Octal(char* field, size_t width, uint64_t value) {
  for (size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  field[width - 1] = '\0';
}

// The 12-byte size field: octal up to 8 GiB - 1, base-256 (high bit set, big-endian) beyond.
void SizeField(char* field, uint64_t size) {
  if (size < (uint64_t{1} << 33)) return Octal(field, 12, size);
  std::memset(field, 0, 12);
  field[0] = static_cast<char>(0x80);
  for (int i = 11; i >= 4; --i) {
    field[i] = static_cast<char>(size & 0xff);
    size >>= 8;
  }
}

// A ustar header (mode 0644, owner 0:0, mtime 0); `name` up to 100 bytes.
std::string Header(std::string_view name, char type, uint64_t size) {
  char h[kBlock] = {0};
  std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
  Octal(h + 100, 8, 0644);
  Octal(h + 108, 8, 0);
  Octal(h + 116, 8, 0);
  SizeField(h + 124, size);
  Octal(h + 136, 12, 0);
  std::memset(h + 148, ' ', 8);
  h[156] = type;
  std::memcpy(h + 257,
              "ustar\0"
              "00",
              8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  Octal(h + 148, 7, sum);
  h[155] = ' ';
  return std::string(h, kBlock);
}

// One pax record: "<length> <key>=<value>\n", the length counting itself.
std::string PaxRecord(std::string_view key, std::string_view value) {
  size_t body = key.size() + value.size() + 3;  // ' ', '=', '\n'
  size_t len = body + 1;
  while (StrCat(len).size() + body != len) ++len;
  return StrCat(len, " ", key, "=", value, "\n");
}

std::string WithPadding(std::string data) {
  data.append(PadLen(data.size()), '\0');
  return data;
}

std::string Compress(std::string_view raw, image::Compression c) {
  return c == image::Compression::kGzip ? GzipBytes(raw) : ZstdBytes(raw);
}

// The compressed blob, one member/frame per piece; a repeated piece is compressed once.
class BlobBuilder {
 public:
  explicit BlobBuilder(image::Compression c) : c_(c) {}
  void Add(std::string_view raw) { Repeat(raw, 1); }
  void Repeat(std::string_view raw, uint64_t times) {
    if (raw.empty() || times == 0) return;
    std::string piece = Compress(raw, c_);
    for (uint64_t i = 0; i < times; ++i) blob_.append(piece);
    size_ += raw.size() * times;
  }
  void Zeros(uint64_t n) {
    if (n >= kRepeatChunk) Repeat(std::string(kRepeatChunk, '\0'), n / kRepeatChunk);
    Add(std::string(n % kRepeatChunk, '\0'));
  }
  CraftedLayer Finish() {
    CraftedLayer l;
    l.blob = std::move(blob_);
    l.compression = c_;
    l.tar_size = size_;
    return l;
  }

 private:
  image::Compression c_;
  std::string blob_;
  uint64_t size_ = 0;
};

CraftedLayer FromTar(const std::string& tar, image::Compression c) {
  CraftedLayer l;
  l.blob = c == image::Compression::kNone ? tar : Compress(tar, c);
  l.compression = c;
  l.tar_size = tar.size();
  l.diff_id = Digest::Sha256Of(tar);
  return l;
}

}  // namespace

CraftedLayer ZeroFileLayer(uint64_t bytes, image::Compression c) {
  BlobBuilder b(c);
  b.Add(Header("zeros", '0', bytes));
  b.Zeros(bytes + PadLen(bytes) + 2 * kBlock);
  return b.Finish();
}

CraftedLayer SparseLayer(int count, uint64_t declared, image::Compression c, bool real_diff_id) {
  std::string tar;
  for (int i = 0; i < count; ++i) {
    std::string name = StrCat("sparse", i);
    std::string pax =
        StrCat(PaxRecord("GNU.sparse.major", "1"), PaxRecord("GNU.sparse.minor", "0"),
               PaxRecord("GNU.sparse.name", name), PaxRecord("GNU.sparse.realsize", StrCat(declared)));
    tar += Header(StrCat("PaxHeaders/", name), 'x', pax.size()) + WithPadding(pax);
    // Format 1.0: the map (segment count, then offset and length of each) opens the data, padded to
    // a block; then the segments' bytes. One byte of data at the very end: all the rest is a hole.
    // The size field counts the map's blocks and the data, not the data's padding (as GNU tar writes).
    std::string body = WithPadding(StrCat("1\n", declared - 1, "\n1\n")) + "x";
    tar += Header(StrCat("GNUSparseFile.0/", name), '0', body.size()) + WithPadding(body);
  }
  tar.append(2 * kBlock, '\0');
  CraftedLayer l = FromTar(tar, c);
  if (!real_diff_id) l.diff_id = CraftedLayer().diff_id;
  return l;
}

CraftedLayer ManyEntriesLayer(uint64_t count, image::Compression c, bool same_name) {
  if (!same_name) {
    std::string tar = Header("d/", '5', 0);
    for (uint64_t i = 0; i < count; ++i) tar += Header(StrCat("d/f", i), '0', 0);
    tar.append(2 * kBlock, '\0');
    return FromTar(tar, c);
  }
  constexpr uint64_t kPerPiece = 8192;
  std::string header = Header("f", '0', 0);
  std::string piece;
  for (uint64_t i = 0; i < kPerPiece; ++i) piece += header;
  BlobBuilder b(c);
  b.Repeat(piece, count / kPerPiece);
  std::string rest;
  for (uint64_t i = 0; i < count % kPerPiece; ++i) rest += header;
  rest.append(2 * kBlock, '\0');
  b.Add(rest);
  return b.Finish();
}

CraftedLayer RandomFileLayer(uint64_t bytes, uint32_t seed, image::Compression c) {
  std::string content(bytes, '\0');
  uint32_t x = seed * 2654435761u + 7;
  for (char& ch : content) {
    x = x * 1664525u + 1013904223u;
    ch = static_cast<char>(x >> 24);
  }
  return FromTar(MakeTar({TarFile("random", std::move(content))}), c);
}

TestImage CraftedImage(const std::vector<CraftedLayer>& layers) {
  std::vector<TestLayer> built;
  for (const CraftedLayer& c : layers) {
    TestLayer l;
    l.blob = c.blob;
    l.diff_id = c.diff_id;
    l.descriptor.media_type = LayerMediaType(c.compression);
    l.descriptor.digest = Digest::Sha256Of(c.blob);
    l.descriptor.size = static_cast<int64_t>(c.blob.size());
    built.push_back(std::move(l));
  }
  return AssembleImage(std::move(built));
}

}  // namespace cricket::testing
