#include "server/streaming/spdy_headers.h"

#include <zlib.h>

#include "lib/common/strings.h"
#include "server/streaming/spdy_dictionary.h"

namespace cricket::streaming::spdy {
namespace {

void Put32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

// Reads a u32 length and that many bytes; false when the block is too short.
bool ReadString(std::string_view* in, std::string_view* out) {
  if (in->size() < 4) return false;
  const uint32_t n =
      (uint32_t{static_cast<uint8_t>((*in)[0])} << 24) | (uint32_t{static_cast<uint8_t>((*in)[1])} << 16) |
      (uint32_t{static_cast<uint8_t>((*in)[2])} << 8) | uint32_t{static_cast<uint8_t>((*in)[3])};
  in->remove_prefix(4);
  if (in->size() < n) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

const Bytef* DictBytes() { return reinterpret_cast<const Bytef*>(HeaderDictionary().data()); }

}  // namespace

std::string_view FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

std::string EncodeHeaderBlock(const HeaderList& headers) {
  std::string out;
  Put32(&out, static_cast<uint32_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    Put32(&out, static_cast<uint32_t>(name.size()));
    out.append(name);
    Put32(&out, static_cast<uint32_t>(value.size()));
    out.append(value);
  }
  return out;
}

absl::StatusOr<HeaderList> DecodeHeaderBlock(std::string_view block) {
  if (block.size() < 4) return absl::InvalidArgumentError("SPDY header block: truncated pair count");
  const uint32_t count =
      (uint32_t{static_cast<uint8_t>(block[0])} << 24) | (uint32_t{static_cast<uint8_t>(block[1])} << 16) |
      (uint32_t{static_cast<uint8_t>(block[2])} << 8) | uint32_t{static_cast<uint8_t>(block[3])};
  block.remove_prefix(4);
  // Each pair needs at least 8 bytes: a count beyond that is a lie, not a reason to reserve memory.
  if (count > block.size() / 8) {
    return absl::InvalidArgumentError(
        StrCat("SPDY header block: ", count, " pairs do not fit in ", block.size(), " bytes"));
  }
  HeaderList headers;
  headers.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view name, value;
    if (!ReadString(&block, &name) || !ReadString(&block, &value)) {
      return absl::InvalidArgumentError(StrCat("SPDY header block: pair ", i, " is truncated"));
    }
    if (name.empty())
      return absl::InvalidArgumentError(StrCat("SPDY header block: pair ", i, " has an empty name"));
    for (char c : name) {
      if (c >= 'A' && c <= 'Z') {
        return absl::InvalidArgumentError(StrCat("SPDY header block: name \"", name, "\" is not lowercase"));
      }
    }
    headers.emplace_back(std::string(name), std::string(value));
  }
  if (!block.empty()) {
    return absl::InvalidArgumentError(StrCat("SPDY header block: ", block.size(), " trailing bytes"));
  }
  return headers;
}

struct HeaderCompressor::State {
  z_stream z{};
  bool ok = false;
};

HeaderCompressor::HeaderCompressor() : state_(std::make_unique<State>()) {
  // A 2 KiB window (it holds the 1423-byte dictionary) and the smallest hash: the server compresses only
  // empty header blocks, and the default parameters would cost ~270 KiB per connection.
  if (deflateInit2(&state_->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 11, 1, Z_DEFAULT_STRATEGY) == Z_OK) {
    state_->ok = deflateSetDictionary(&state_->z, DictBytes(), HeaderDictionary().size()) == Z_OK;
  }
}

HeaderCompressor::~HeaderCompressor() { deflateEnd(&state_->z); }

absl::StatusOr<std::string> HeaderCompressor::Compress(const HeaderList& headers) {
  if (!state_->ok) return absl::InternalError("SPDY header compressor: zlib initialisation failed");
  std::string in = EncodeHeaderBlock(headers);
  std::string out;
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  char chunk[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof(chunk);
    const int rc = deflate(&z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      state_->ok = false;
      return absl::InternalError(StrCat("SPDY header compressor: deflate returned ", rc));
    }
    out.append(chunk, sizeof(chunk) - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

struct HeaderDecompressor::State {
  z_stream z{};
  bool ok = false;
};

HeaderDecompressor::HeaderDecompressor(size_t max_size)
    : state_(std::make_unique<State>()), max_size_(max_size) {
  state_->ok = inflateInit(&state_->z) == Z_OK;
}

HeaderDecompressor::~HeaderDecompressor() { inflateEnd(&state_->z); }

absl::StatusOr<HeaderList> HeaderDecompressor::Decompress(std::string_view compressed) {
  if (!state_->ok) return absl::FailedPreconditionError("SPDY header decompressor is in a failed state");
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char chunk[4096];
  // Inflate until all input is consumed and zlib has nothing more to give (avail_out left non-zero).
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof(chunk);
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      if (inflateSetDictionary(&z, DictBytes(), HeaderDictionary().size()) != Z_OK) {
        state_->ok = false;
        return absl::InvalidArgumentError(
            "SPDY header block: compressed with a dictionary other than SPDY/3's");
      }
      rc = inflate(&z, Z_SYNC_FLUSH);
    }
    if (rc == Z_STREAM_END) {
      state_->ok = false;
      return absl::InvalidArgumentError("SPDY header block: the zlib stream ended (it must stay open)");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      state_->ok = false;
      return absl::InvalidArgumentError(
          StrCat("SPDY header block: inflate failed (", z.msg ? z.msg : "no message", ")"));
    }
    out.append(chunk, sizeof(chunk) - z.avail_out);
    if (out.size() > max_size_) {
      state_->ok = false;
      return absl::InvalidArgumentError(StrCat("SPDY header block: inflates beyond ", max_size_, " bytes"));
    }
    if (z.avail_out != 0 && z.avail_in == 0) break;
    if (rc == Z_BUF_ERROR && z.avail_out != 0) break;  // no progress possible
  }
  if (z.avail_in != 0) {
    state_->ok = false;
    return absl::InvalidArgumentError("SPDY header block: undecodable trailing compressed bytes");
  }
  return DecodeHeaderBlock(out);
}

}  // namespace cricket::streaming::spdy
