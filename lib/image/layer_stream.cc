#include "lib/image/layer_stream.h"

#include <zlib.h>
#include <zstd.h>
#ifdef CRICKET_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/storage/tar_apply.h"

namespace cricket::image {

namespace {

class PlainDecompressor : public Decompressor {
 public:
  explicit PlainDecompressor(ChunkSink sink) : sink_(std::move(sink)) {}
  absl::Status Write(std::string_view in) override {
    while (!in.empty()) {
      std::string_view piece = in.substr(0, kDecompressChunk);
      RETURN_IF_ERROR(sink_(piece));
      in.remove_prefix(piece.size());
    }
    return absl::OkStatus();
  }
  absl::Status Finish() override { return absl::OkStatus(); }

 private:
  ChunkSink sink_;
};

class GzipDecompressor : public Decompressor {
 public:
  explicit GzipDecompressor(ChunkSink sink) : sink_(std::move(sink)), out_(kDecompressChunk, '\0') {
    // 16 + MAX_WBITS: gzip framing only (RFC 1952).
    init_ = inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK;
  }
  ~GzipDecompressor() override {
    if (init_) inflateEnd(&zs_);
  }

  absl::Status Write(std::string_view in) override {
    if (!init_) return absl::InternalError("gzip: inflateInit2 failed");
    if (in.empty()) return absl::OkStatus();
    seen_input_ = true;
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    bool out_full = false;
    while (zs_.avail_in > 0 || out_full) {
      if (member_done_) {
        // More bytes after a complete member: the next member of a multi-member file.
        if (zs_.avail_in == 0) break;
        inflateReset(&zs_);
        member_done_ = false;
      }
      zs_.next_out = reinterpret_cast<Bytef*>(out_.data());
      zs_.avail_out = static_cast<uInt>(out_.size());
      int r = inflate(&zs_, Z_NO_FLUSH);
      size_t produced = out_.size() - zs_.avail_out;
      out_full = zs_.avail_out == 0;
      if (produced > 0) RETURN_IF_ERROR(sink_(std::string_view(out_.data(), produced)));
      if (r == Z_STREAM_END) {
        member_done_ = true;
        continue;
      }
      if (r == Z_BUF_ERROR && zs_.avail_in == 0) break;  // needs more input
      if (r != Z_OK) {
        return absl::DataLossError(StrCat("gzip: ", zs_.msg != nullptr ? zs_.msg : "corrupt data"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (!seen_input_) return absl::DataLossError("gzip: empty stream");
    if (!member_done_) return absl::DataLossError("gzip: truncated stream (unexpected end of data)");
    return absl::OkStatus();
  }

 private:
  ChunkSink sink_;
  z_stream zs_{};
  bool init_ = false;
  bool seen_input_ = false;
  bool member_done_ = false;
  std::string out_;
};

#ifdef CRICKET_HAVE_ISAL
// ISA-L's igzip: several times zlib's inflate speed (SIMD Huffman decoding, hardware CRC-32) on the
// same RFC 1951/1952 streams; it checks each member's CRC-32 and length itself (ISAL_GZIP). It reads
// every header field zlib reads (name, comment, extra, header CRC).
class IgzipDecompressor : public Decompressor {
 public:
  explicit IgzipDecompressor(ChunkSink sink)
      : sink_(std::move(sink)), state_(std::make_unique<inflate_state>()), out_(kDecompressChunk, '\0') {
    isal_inflate_init(state_.get());
    state_->crc_flag = ISAL_GZIP;
  }

  absl::Status Write(std::string_view in) override {
    if (in.empty()) return absl::OkStatus();
    seen_input_ = true;
    inflate_state* st = state_.get();
    st->next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(in.data()));
    st->avail_in = static_cast<uint32_t>(in.size());
    for (;;) {
      if (st->block_state == ISAL_BLOCK_FINISH) {
        // More bytes after a complete member: the next member of a multi-member file.
        if (st->avail_in == 0) break;
        isal_inflate_reset(st);
        st->crc_flag = ISAL_GZIP;
      }
      st->next_out = reinterpret_cast<uint8_t*>(out_.data());
      st->avail_out = static_cast<uint32_t>(out_.size());
      int r = isal_inflate(st);
      size_t produced = out_.size() - st->avail_out;
      if (r < 0 || r > ISAL_OUT_OVERFLOW) return absl::DataLossError(StrCat("gzip: ", ErrorName(r)));
      if (produced > 0) RETURN_IF_ERROR(sink_(std::string_view(out_.data(), produced)));
      if (st->block_state == ISAL_BLOCK_FINISH) continue;
      if (st->avail_in == 0 && produced < out_.size()) break;  // needs more input
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (!seen_input_) return absl::DataLossError("gzip: empty stream");
    if (state_->block_state != ISAL_BLOCK_FINISH) {
      return absl::DataLossError("gzip: truncated stream (unexpected end of data)");
    }
    return absl::OkStatus();
  }

 private:
  // In zlib's words where zlib has one, so errors read the same whichever engine runs.
  static std::string_view ErrorName(int r) {
    switch (r) {
      case ISAL_INVALID_BLOCK:
        return "invalid deflate block";
      case ISAL_INVALID_SYMBOL:
        return "invalid code";
      case ISAL_INVALID_LOOKBACK:
        return "invalid distance too far back";
      case ISAL_INVALID_WRAPPER:
        return "incorrect header check";
      case ISAL_UNSUPPORTED_METHOD:
        return "unknown compression method";
      case ISAL_INCORRECT_CHECKSUM:
        return "incorrect data check";
      default:
        return "corrupt data";
    }
  }

  ChunkSink sink_;
  std::unique_ptr<inflate_state> state_;
  std::string out_;
  bool seen_input_ = false;
};
#endif  // CRICKET_HAVE_ISAL

class ZstdDecompressor : public Decompressor {
 public:
  explicit ZstdDecompressor(ChunkSink sink)
      : sink_(std::move(sink)), ctx_(ZSTD_createDCtx()), out_(kDecompressChunk, '\0') {}
  ~ZstdDecompressor() override { ZSTD_freeDCtx(ctx_); }

  absl::Status Write(std::string_view in) override {
    if (ctx_ == nullptr) return absl::InternalError("zstd: ZSTD_createDCtx failed");
    if (in.empty()) return absl::OkStatus();
    seen_input_ = true;
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    for (;;) {
      ZSTD_outBuffer output{out_.data(), out_.size(), 0};
      size_t r = ZSTD_decompressStream(ctx_, &output, &input);
      if (ZSTD_isError(r)) return absl::DataLossError(StrCat("zstd: ", ZSTD_getErrorName(r)));
      if (output.pos > 0) RETURN_IF_ERROR(sink_(std::string_view(out_.data(), output.pos)));
      frame_pending_ = r != 0;
      // Done when all input is consumed and zstd did not fill the buffer (nothing left to flush).
      if (input.pos == input.size && output.pos < output.size) break;
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (!seen_input_) return absl::DataLossError("zstd: empty stream");
    if (frame_pending_) return absl::DataLossError("zstd: truncated stream (unexpected end of data)");
    return absl::OkStatus();
  }

 private:
  ChunkSink sink_;
  ZSTD_DCtx* ctx_;
  bool seen_input_ = false;
  bool frame_pending_ = false;
  std::string out_;
};

}  // namespace

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kNone:
      break;
  }
  return "none";
}

absl::StatusOr<Compression> CompressionForMediaType(std::string_view t) {
  using namespace media_type;
  if (t == kOciLayerGzip || t == kOciLayerNondistributableGzip || t == kDockerLayerGzip ||
      t == kDockerForeignLayerGzip) {
    return Compression::kGzip;
  }
  if (t == kOciLayerZstd || t == kOciLayerNondistributableZstd) return Compression::kZstd;
  if (t == kOciLayer || t == kOciLayerNondistributable) return Compression::kNone;
  return absl::InvalidArgumentError(StrCat("unsupported layer media type \"", t, "\""));
}

Compression DetectCompression(std::string_view p) {
  if (p.size() >= 2 && static_cast<unsigned char>(p[0]) == 0x1f && static_cast<unsigned char>(p[1]) == 0x8b) {
    return Compression::kGzip;
  }
  if (p.size() >= 4 && p.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4)) return Compression::kZstd;
  return Compression::kNone;
}

std::string_view GzipEngineName() {
#ifdef CRICKET_HAVE_ISAL
  return "igzip";
#else
  return "zlib";
#endif
}

std::unique_ptr<Decompressor> NewDecompressor(Compression c, ChunkSink sink, GzipEngine engine) {
  switch (c) {
    case Compression::kGzip:
#ifdef CRICKET_HAVE_ISAL
      if (engine == GzipEngine::kDefault) return std::make_unique<IgzipDecompressor>(std::move(sink));
#endif
      return std::make_unique<GzipDecompressor>(std::move(sink));
    case Compression::kZstd:
      return std::make_unique<ZstdDecompressor>(std::move(sink));
    case Compression::kNone:
      break;
  }
  return std::make_unique<PlainDecompressor>(std::move(sink));
}

BlobVerifier::BlobVerifier(const Digest& expected, int64_t expected_size, std::string what)
    : expected_(expected),
      expected_size_(expected_size),
      what_(std::move(what)),
      hasher_(*Hasher::Create(expected.algorithm())) {}

absl::Status BlobVerifier::Update(std::string_view data) {
  if (expected_size_ >= 0 && bytes_ + static_cast<int64_t>(data.size()) > expected_size_) {
    return absl::OutOfRangeError(
        StrCat(what_, ": more than the expected ", expected_size_, " bytes received"));
  }
  hasher_.Update(data);
  bytes_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::Status BlobVerifier::Finish() {
  if (expected_size_ >= 0 && bytes_ != expected_size_) {
    return absl::DataLossError(
        StrCat(what_, ": size mismatch: got ", bytes_, " bytes, want ", expected_size_));
  }
  std::string got = hasher_.Finish();
  if (got != expected_.ToString()) {
    return absl::DataLossError(
        StrCat(what_, ": digest mismatch: got ", got, ", want ", expected_.ToString()));
  }
  return absl::OkStatus();
}

LayerDecoder::LayerDecoder(const Descriptor& layer, ChunkSink sink, Options options, Compression declared)
    : verifier_(layer.digest, layer.size, StrCat("layer ", layer.digest.ToString())),
      sink_(std::move(sink)),
      options_(options),
      sniff_(declared == Compression::kNone),
      what_(StrCat("layer ", layer.digest.ToString())) {}

absl::StatusOr<std::unique_ptr<LayerDecoder>> LayerDecoder::Create(const Descriptor& layer, ChunkSink sink,
                                                                   Options options) {
  ASSIGN_OR_RETURN(Compression declared, CompressionForMediaType(layer.media_type));
  std::unique_ptr<LayerDecoder> d(new LayerDecoder(layer, std::move(sink), options, declared));
  if (!d->sniff_) RETURN_IF_ERROR(d->Start(declared));
  return d;
}

absl::Status LayerDecoder::Start(Compression c) {
  compression_ = c;
  if (options_.compute_diff_id) diff_hasher_.emplace(*Hasher::Create("sha256"));
  decompressor_ = NewDecompressor(c, [this](std::string_view chunk) -> absl::Status {
    uncompressed_ += static_cast<int64_t>(chunk.size());
    RETURN_IF_ERROR(CheckExpansion());
    if (diff_hasher_) diff_hasher_->Update(chunk);
    return sink_(chunk);
  });
  return absl::OkStatus();
}

absl::Status LayerDecoder::CheckExpansion() const {
  uint64_t ratio = options_.max_expansion_ratio;
  if (ratio == 0 || compression_ == Compression::kNone) return absl::OkStatus();
  auto out = static_cast<uint64_t>(uncompressed_);
  auto in = static_cast<uint64_t>(verifier_.bytes());
  if (out <= kExpansionAllowance || (out - kExpansionAllowance) / ratio <= in) return absl::OkStatus();
  return storage::MarkLayerRefused(absl::InvalidArgumentError(
      StrCat("expands more than ", ratio, " times its compressed size: ", out, " bytes from the first ", in,
             " (max_layer_expansion_ratio ", ratio, ")")));
}

absl::Status LayerDecoder::Write(std::string_view compressed) {
  RETURN_IF_ERROR(verifier_.Update(compressed));
  if (decompressor_ == nullptr) {
    // A plain tar media type: some producers still compress such layers, so look at the magic first.
    sniff_buffer_.append(compressed);
    if (sniff_buffer_.size() < 4) return absl::OkStatus();
    RETURN_IF_ERROR(Start(DetectCompression(sniff_buffer_)));
    std::string buffered = std::move(sniff_buffer_);
    sniff_buffer_.clear();
    return Annotate(decompressor_->Write(buffered), what_);
  }
  return Annotate(decompressor_->Write(compressed), what_);
}

absl::StatusOr<LayerStreamResult> LayerDecoder::Finish() {
  RETURN_IF_ERROR(verifier_.Finish());
  if (decompressor_ == nullptr) {
    RETURN_IF_ERROR(Start(DetectCompression(sniff_buffer_)));
    RETURN_IF_ERROR(Annotate(decompressor_->Write(sniff_buffer_), what_));
  }
  RETURN_IF_ERROR(Annotate(decompressor_->Finish(), what_));
  LayerStreamResult r;
  r.compression = compression_;
  r.compressed_size = verifier_.bytes();
  r.uncompressed_size = uncompressed_;
  if (diff_hasher_) {
    auto d = Digest::Parse(diff_hasher_->Finish());
    if (d.ok()) r.diff_id = *std::move(d);
  }
  return r;
}

}  // namespace cricket::image
