#include "server/streaming/spdy_headers.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "server/streaming/spdy_dictionary.h"

namespace cricket::streaming::spdy {
namespace {

TEST(SpdyDictionary, MatchesTheSpdy3Draft) {
  const std::string_view dict = HeaderDictionary();
  ASSERT_EQ(dict.size(), 1423u);
  EXPECT_EQ(adler32(1, reinterpret_cast<const Bytef*>(dict.data()), dict.size()), 0xe3c6a7c2u);
  EXPECT_EQ(dict.substr(0, 11), std::string("\x00\x00\x00\x07options", 11));
  EXPECT_EQ(dict.substr(dict.size() - 6), "enq=0.");
}

TEST(SpdyHeaders, UncompressedBlockRoundTrip) {
  HeaderList h = {{"streamtype", "error"}, {"port", "8080"}, {"empty", ""}};
  const std::string block = EncodeHeaderBlock(h);
  EXPECT_EQ(block.substr(0, 4), std::string("\x00\x00\x00\x03", 4));
  auto decoded = DecodeHeaderBlock(block);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, h);
  EXPECT_EQ(FindHeader(*decoded, "port"), "8080");
  EXPECT_EQ(FindHeader(*decoded, "missing"), "");
}

TEST(SpdyHeaders, RejectsMalformedBlocks) {
  EXPECT_FALSE(DecodeHeaderBlock("").ok());
  EXPECT_FALSE(DecodeHeaderBlock(std::string("\xff\xff\xff\xff", 4)).ok());  // absurd count
  std::string upper = EncodeHeaderBlock({{"StreamType", "x"}});
  EXPECT_FALSE(DecodeHeaderBlock(upper).ok());
  std::string truncated = EncodeHeaderBlock({{"a", "value"}});
  truncated.pop_back();
  EXPECT_FALSE(DecodeHeaderBlock(truncated).ok());
  EXPECT_FALSE(DecodeHeaderBlock(EncodeHeaderBlock({{"a", "b"}}) + "x").ok());
  EXPECT_FALSE(DecodeHeaderBlock(EncodeHeaderBlock({{"", "b"}})).ok());
}

// Several blocks share one zlib stream per direction; the second block only decodes with the state the
// first left behind.
TEST(SpdyHeaders, CompressedStreamAcrossBlocks) {
  HeaderCompressor out;
  HeaderDecompressor in;
  const HeaderList a = {{"streamtype", "stdin"}};
  const HeaderList b = {{"streamtype", "stdout"}, {"requestid", "0"}};
  auto ca = out.Compress(a);
  auto cb = out.Compress(b);
  ASSERT_TRUE(ca.ok() && cb.ok());
  auto da = in.Decompress(*ca);
  ASSERT_TRUE(da.ok()) << da.status();
  EXPECT_EQ(*da, a);
  auto db = in.Decompress(*cb);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(*db, b);

  HeaderDecompressor fresh;
  EXPECT_FALSE(fresh.Decompress(*cb).ok());  // out of context
}

// An independent peer: plain zlib primed with the dictionary (as Go's compress/zlib does it).
TEST(SpdyHeaders, InteroperatesWithPlainZlib) {
  z_stream z{};
  ASSERT_EQ(deflateInit(&z, Z_BEST_COMPRESSION), Z_OK);
  ASSERT_EQ(deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(HeaderDictionary().data()),
                                 HeaderDictionary().size()),
            Z_OK);
  std::string plain = EncodeHeaderBlock({{"streamtype", "resize"}});
  std::string buf(256, '\0');
  z.next_in = reinterpret_cast<Bytef*>(plain.data());
  z.avail_in = plain.size();
  z.next_out = reinterpret_cast<Bytef*>(buf.data());
  z.avail_out = buf.size();
  ASSERT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  buf.resize(buf.size() - z.avail_out);
  deflateEnd(&z);
  HeaderDecompressor in;
  auto h = in.Decompress(buf);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(FindHeader(*h, "streamtype"), "resize");
}

TEST(SpdyHeaders, RejectsZipBombsAndGarbage) {
  HeaderCompressor out;
  HeaderDecompressor in(1024);
  auto big = out.Compress({{"x", std::string(4096, 'a')}});
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(in.Decompress(*big).ok());
  HeaderDecompressor garbage;
  EXPECT_FALSE(garbage.Decompress("not zlib at all").ok());
  // Once failed, it stays failed.
  EXPECT_FALSE(garbage.Decompress(*big).ok());
}

}  // namespace
}  // namespace cricket::streaming::spdy
