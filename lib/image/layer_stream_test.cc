#include "lib/image/layer_stream.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <random>

#include "lib/common/strings.h"
#include "lib/storage/tar_apply.h"

namespace cricket::image {
namespace {

std::string Gzip(std::string_view data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Zstd(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// Half compressible text, half random bytes: several output chunks, and inflate gets both kinds.
std::string TestData(size_t n) {
  std::string s;
  std::mt19937 rng(42);
  while (s.size() < n / 2) StrAppend(&s, "line ", s.size(), " of a very repetitive layer\n");
  while (s.size() < n) s.push_back(static_cast<char>(rng()));
  return s;
}

Descriptor Layer(std::string_view media_type, std::string_view blob) {
  Descriptor d;
  d.media_type = std::string(media_type);
  d.digest = Digest::Sha256Of(blob);
  d.size = static_cast<int64_t>(blob.size());
  return d;
}

struct DecodeRun {
  absl::Status write_status;
  absl::StatusOr<LayerStreamResult> result = absl::UnknownError("not finished");
  std::string output;
  size_t max_chunk = 0;
};

// Feeds `blob` in pieces of `piece` bytes.
DecodeRun Decode(const Descriptor& d, std::string_view blob, size_t piece, bool diff_id = false) {
  DecodeRun run;
  auto dec = LayerDecoder::Create(
      d,
      [&](std::string_view chunk) {
        run.output.append(chunk);
        run.max_chunk = std::max(run.max_chunk, chunk.size());
        return absl::OkStatus();
      },
      LayerDecoder::Options{.compute_diff_id = diff_id});
  if (!dec.ok()) {
    run.write_status = dec.status();
    return run;
  }
  for (size_t off = 0; off < blob.size(); off += piece) {
    run.write_status = (*dec)->Write(blob.substr(off, piece));
    if (!run.write_status.ok()) return run;
  }
  run.result = (*dec)->Finish();
  return run;
}

class LayerStreamTest : public ::testing::TestWithParam<size_t> {};

TEST_P(LayerStreamTest, RoundTripsEveryCompression) {
  std::string data = TestData(600 << 10);
  struct Case {
    std::string_view media_type;
    std::string blob;
    Compression want;
  };
  const Case cases[] = {
      {media_type::kOciLayerGzip, Gzip(data), Compression::kGzip},
      {media_type::kDockerLayerGzip, Gzip(data), Compression::kGzip},
      {media_type::kOciLayerZstd, Zstd(data), Compression::kZstd},
      {media_type::kOciLayer, data, Compression::kNone},
      // A plain tar media type whose bytes are compressed anyway: the magic bytes decide.
      {media_type::kOciLayer, Gzip(data), Compression::kGzip},
      {media_type::kOciLayer, Zstd(data), Compression::kZstd},
      // Concatenated gzip members and zstd frames form one stream.
      {media_type::kOciLayerGzip, Gzip(data.substr(0, 1000)) + Gzip(data.substr(1000)), Compression::kGzip},
      {media_type::kOciLayerZstd, Zstd(data.substr(0, 1000)) + Zstd(data.substr(1000)), Compression::kZstd},
  };
  for (const Case& c : cases) {
    DecodeRun run = Decode(Layer(c.media_type, c.blob), c.blob, GetParam(), true);
    ASSERT_TRUE(run.write_status.ok()) << run.write_status;
    ASSERT_TRUE(run.result.ok()) << run.result.status();
    EXPECT_EQ(run.output.size(), data.size()) << c.media_type;
    EXPECT_TRUE(run.output == data) << c.media_type;
    EXPECT_LE(run.max_chunk, kDecompressChunk);
    EXPECT_EQ(run.result->compression, c.want) << c.media_type;
    EXPECT_EQ(run.result->compressed_size, static_cast<int64_t>(c.blob.size()));
    EXPECT_EQ(run.result->uncompressed_size, static_cast<int64_t>(data.size()));
    ASSERT_TRUE(run.result->diff_id.has_value());
    EXPECT_EQ(*run.result->diff_id, Digest::Sha256Of(data));
  }
}

INSTANTIATE_TEST_SUITE_P(PieceSizes, LayerStreamTest, ::testing::Values(1, 3, 4096, 1 << 20));

TEST(LayerStreamErrorsTest, DigestMismatchIsReportedAtTheEnd) {
  std::string data = TestData(10000);
  for (auto [type, blob] :
       {std::pair{media_type::kOciLayerGzip, Gzip(data)}, std::pair{media_type::kOciLayerZstd, Zstd(data)},
        std::pair{media_type::kOciLayer, data}}) {
    Descriptor d = Layer(type, blob);
    d.digest = Digest::Sha256Of("something else");
    DecodeRun run = Decode(d, blob, 1000);
    ASSERT_TRUE(run.write_status.ok()) << run.write_status;
    EXPECT_EQ(run.output, data);  // the sink saw it all; the consumer must discard it
    ASSERT_FALSE(run.result.ok());
    EXPECT_EQ(run.result.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(run.result.status().message().find("digest mismatch: got " + Digest::Sha256Of(blob).ToString()),
              absl::string_view::npos)
        << run.result.status();
  }
}

TEST(LayerStreamErrorsTest, SizeMismatch) {
  std::string blob = Gzip(TestData(5000));
  Descriptor bigger = Layer(media_type::kOciLayerGzip, blob);
  bigger.size += 10;
  DecodeRun run = Decode(bigger, blob, 512);
  EXPECT_EQ(run.result.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(run.result.status().message().find("size mismatch: got " + std::to_string(blob.size())),
            absl::string_view::npos);

  Descriptor smaller = Layer(media_type::kOciLayerGzip, blob);
  smaller.size -= 10;
  run = Decode(smaller, blob, 512);
  EXPECT_EQ(run.write_status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(run.write_status.message().find("more than the expected"), absl::string_view::npos);
}

TEST(LayerStreamErrorsTest, TruncatedStreamsFailEvenWithAMatchingDigest) {
  std::string data = TestData(200000);
  for (auto [type, blob] :
       {std::pair{media_type::kOciLayerGzip, Gzip(data)}, std::pair{media_type::kOciLayerZstd, Zstd(data)}}) {
    std::string cut = blob.substr(0, blob.size() / 2);
    DecodeRun run = Decode(Layer(type, cut), cut, 4096);
    ASSERT_TRUE(run.write_status.ok()) << run.write_status;
    ASSERT_FALSE(run.result.ok()) << type;
    EXPECT_EQ(run.result.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(run.result.status().message().find("truncated"), absl::string_view::npos)
        << run.result.status();
    EXPECT_LT(run.output.size(), data.size());
  }
  // Even a gzip trailer short by one byte.
  std::string blob = Gzip(data);
  std::string cut = blob.substr(0, blob.size() - 1);
  EXPECT_NE(
      Decode(Layer(media_type::kOciLayerGzip, cut), cut, 4096).result.status().message().find("truncated"),
      absl::string_view::npos);
}

TEST(LayerStreamErrorsTest, CorruptAndWrongFormat) {
  std::string data = TestData(50000);
  std::string blob = Gzip(data);
  for (size_t i = 100; i < 200; ++i) blob[i] = static_cast<char>(blob[i] ^ 0x5a);
  DecodeRun run = Decode(Layer(media_type::kOciLayerGzip, blob), blob, 4096);
  absl::Status s = run.write_status.ok() ? run.result.status() : run.write_status;
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("gzip: "), absl::string_view::npos) << s;

  // A gzip media type over zstd bytes, and trailing garbage after a gzip member.
  std::string z = Zstd(data);
  run = Decode(Layer(media_type::kOciLayerGzip, z), z, 4096);
  EXPECT_NE(run.write_status.message().find("gzip: incorrect header check"), absl::string_view::npos)
      << run.write_status;
  std::string garbage = Gzip(data) + "garbage!";
  run = Decode(Layer(media_type::kOciLayerGzip, garbage), garbage, 4096);
  EXPECT_FALSE(run.write_status.ok() && run.result.ok());
  std::string zgarbage = Zstd(data) + "garbage!";
  run = Decode(Layer(media_type::kOciLayerZstd, zgarbage), zgarbage, 4096);
  EXPECT_FALSE(run.write_status.ok() && run.result.ok());

  // Empty compressed streams are errors; an empty plain layer is fine.
  EXPECT_EQ(Decode(Layer(media_type::kOciLayerGzip, ""), "", 1).result.status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Decode(Layer(media_type::kOciLayerZstd, ""), "", 1).result.status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Decode(Layer(media_type::kOciLayer, ""), "", 1).result.ok());
  // Short plain layers (fewer bytes than a magic number) still come out.
  DecodeRun tiny = Decode(Layer(media_type::kOciLayer, "ab"), "ab", 1);
  ASSERT_TRUE(tiny.result.ok());
  EXPECT_EQ(tiny.output, "ab");

  EXPECT_EQ(LayerDecoder::Create(Layer("application/x-foo", ""), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LayerStreamErrorsTest, SinkErrorsStopTheStream) {
  std::string blob = Gzip(TestData(300000));
  int calls = 0;
  auto dec = LayerDecoder::Create(Layer(media_type::kOciLayerGzip, blob), [&](std::string_view) {
    ++calls;
    return absl::ResourceExhaustedError("disk full");
  });
  ASSERT_TRUE(dec.ok());
  absl::Status s = (*dec)->Write(blob);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(calls, 1);
}

// Both gzip engines read the same streams the same way, fed in any piece size: one member, several
// members (with a file name in the header), and they refuse a corrupted CRC-32 or length trailer.
TEST(GzipEngineTest, EnginesAgree) {
  std::string data = TestData(700 << 10);
  std::string named = Gzip(data.substr(0, 1000));
  named[3] |= 0x08;  // FNAME: a zero-terminated name follows the 10-byte header
  named.insert(10, std::string("layer.tar\0", 10));
  std::string multi = named + Gzip(data.substr(1000, 300000)) + Gzip(data.substr(301000));
  for (GzipEngine engine : {GzipEngine::kDefault, GzipEngine::kZlib}) {
    for (size_t piece : {size_t{1} << 20, size_t{4096}, size_t{7}}) {
      for (const std::string& blob : {Gzip(data), multi}) {
        std::string out;
        auto d = NewDecompressor(
            Compression::kGzip,
            [&](std::string_view c) {
              out.append(c);
              return absl::OkStatus();
            },
            engine);
        for (size_t off = 0; off < blob.size(); off += piece) {
          ASSERT_TRUE(d->Write(std::string_view(blob).substr(off, piece)).ok()) << piece;
        }
        ASSERT_TRUE(d->Finish().ok()) << GzipEngineName() << " " << piece;
        EXPECT_EQ(out, data);
      }
    }
    for (size_t from_end : {8, 4}) {  // the CRC-32, then the length
      std::string bad = Gzip(data);
      bad[bad.size() - from_end] = static_cast<char>(bad[bad.size() - from_end] ^ 1);
      auto d = NewDecompressor(
          Compression::kGzip, [](std::string_view) { return absl::OkStatus(); }, engine);
      absl::Status s = d->Write(bad);
      if (s.ok()) s = d->Finish();
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << from_end;
      EXPECT_NE(s.message().find("incorrect"), absl::string_view::npos) << s;
    }
  }
}

TEST(BlobVerifierTest, ChecksSizeAndDigest) {
  Digest d = Digest::Sha256Of("hello");
  BlobVerifier ok(d, 5, "blob");
  ASSERT_TRUE(ok.Update("hel").ok());
  ASSERT_TRUE(ok.Update("lo").ok());
  EXPECT_TRUE(ok.Finish().ok());
  BlobVerifier unknown_size(d, -1, "blob");
  ASSERT_TRUE(unknown_size.Update("hello").ok());
  EXPECT_TRUE(unknown_size.Finish().ok());
  BlobVerifier bad(d, -1, "config sha256:x");
  ASSERT_TRUE(bad.Update("hellO").ok());
  EXPECT_NE(bad.Finish().message().find("config sha256:x: digest mismatch"), absl::string_view::npos);
}

}  // namespace
}  // namespace cricket::image

namespace cricket::image {
namespace {

// A stream of zeros expands about 1000× with gzip and far more with zstd: the expansion bound stops
// it once the output passes ratio × the compressed bytes received plus the allowance, long before
// the end; ordinary data and uncompressed layers pass.
TEST(LayerExpansionTest, BoundStopsABombEarlyAndNamesItself) {
  std::string zeros(64 << 20, '\0');
  for (auto [media_type, blob] : {std::pair(media_type::kOciLayerGzip, Gzip(zeros)),
                                  std::pair(media_type::kOciLayerZstd, Zstd(zeros))}) {
    uint64_t out = 0;
    auto dec = LayerDecoder::Create(
        Layer(media_type, blob),
        [&](std::string_view chunk) {
          out += chunk.size();
          return absl::OkStatus();
        },
        LayerDecoder::Options{.max_expansion_ratio = 100});
    ASSERT_TRUE(dec.ok());
    absl::Status s;
    for (size_t off = 0; off < blob.size() && s.ok(); off += 4096) s = (*dec)->Write(blob.substr(off, 4096));
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << media_type << ": " << s;
    EXPECT_NE(std::string(s.message()).find("max_layer_expansion_ratio 100"), std::string::npos) << s;
    EXPECT_TRUE(storage::IsLayerRefused(s));
    // Stopped after the allowance plus 100× the few KiB that carried it: a fraction of the 64 MiB.
    EXPECT_LT(out, LayerDecoder::kExpansionAllowance + (4 << 20)) << media_type;
  }
  // Without the bound, or within it, the same decoders pass.
  std::string blob = Gzip(zeros.substr(0, 8 << 20));
  DecodeRun run = Decode(Layer(media_type::kOciLayerGzip, blob), blob, 4096);
  EXPECT_TRUE(run.result.ok()) << run.result.status();
  std::string data = TestData(4 << 20);
  std::string gz = Gzip(data);
  auto dec = LayerDecoder::Create(
      Layer(media_type::kOciLayerGzip, gz), [](std::string_view) { return absl::OkStatus(); },
      LayerDecoder::Options{.max_expansion_ratio = 2});
  ASSERT_TRUE(dec.ok());
  EXPECT_TRUE((*dec)->Write(gz).ok());
  EXPECT_TRUE((*dec)->Finish().ok());
}

}  // namespace
}  // namespace cricket::image
