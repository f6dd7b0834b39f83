#include "server/streaming/byte_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace cricket::streaming {
namespace {

TEST(ByteQueue, ReadsInOrderAcrossAppendsAndCompactions) {
  ByteQueue q;
  std::string sent, read;
  // Appends of 1000 bytes, consumes of 700: the consumed prefix passes the compaction threshold many
  // times while bytes are still pending.
  for (int i = 0; i < 1000; ++i) {
    std::string chunk(1000, static_cast<char>('a' + i % 26));
    chunk[0] = static_cast<char>(i);
    q.Append(chunk);
    sent += chunk;
    size_t n = std::min<size_t>(q.size(), 700);
    read += q.View().substr(0, n);
    q.Consume(n);
    // What is held is what is not yet read, not everything ever received.
    ASSERT_EQ(q.size(), sent.size() - read.size());
  }
  read += q.View();
  q.Consume(q.size());
  EXPECT_EQ(read, sent);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_TRUE(q.View().empty());
}

}  // namespace
}  // namespace cricket::streaming
