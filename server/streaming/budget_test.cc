#include "server/streaming/budget.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <stdexcept>

#include "server/streaming/thread.h"

namespace cricket::streaming {
namespace {

TEST(BufferBudget, FloorIsAlwaysThereAndTheCapNeverExceeded) {
  // Two connections of 64 KiB floors and 1 MiB caps share 128 KiB beyond their floors.
  BufferPool pool(/*total=*/256 << 10, /*floor=*/64 << 10, /*cap=*/1 << 20, /*max_connections=*/2);
  BufferBudget a(&pool), b(&pool);
  EXPECT_TRUE(a.Fit(192 << 10));  // borrows all 128 KiB
  EXPECT_EQ(pool.borrowed(), 128u << 10);
  EXPECT_FALSE(b.Fit((64 << 10) + 1));  // nothing left to borrow
  EXPECT_TRUE(b.Fit(64 << 10));         // its floor is its own
  EXPECT_TRUE(a.Fit(100 << 10));        // a shrinks: gives 92 KiB back
  EXPECT_EQ(pool.borrowed(), 36u << 10);
  EXPECT_TRUE(b.Fit(150 << 10));
  EXPECT_FALSE(b.Fit((1 << 20) + 1));  // never above the cap
  EXPECT_EQ(pool.borrowed(), (36u + 86u) << 10);
}

TEST(BufferBudget, WhatIsBorrowedGoesBackWithTheConnection) {
  BufferPool pool(1 << 20, 64 << 10, 512 << 10, 4);
  {
    BufferBudget a(&pool);
    ASSERT_TRUE(a.Fit(500 << 10));
    EXPECT_GT(pool.borrowed(), 0u);
  }
  EXPECT_EQ(pool.borrowed(), 0u);
}

TEST(BufferBudget, WithoutAPoolOnlyTheDefaultCapApplies) {
  BufferBudget a(nullptr);
  EXPECT_TRUE(a.Fit(BufferBudget::kDefaultCap));
  EXPECT_FALSE(a.Fit(BufferBudget::kDefaultCap + 1));
}

TEST(BufferPool, Validate) {
  EXPECT_TRUE(BufferPool::Validate(24 << 20, 64 << 10, 1 << 20, 256).ok());
  EXPECT_FALSE(BufferPool::Validate(1 << 20, 64 << 10, 1 << 20, 256).ok());  // floors do not fit
  EXPECT_FALSE(BufferPool::Validate(24 << 20, 2 << 20, 1 << 20, 4).ok());    // floor above the cap
  EXPECT_FALSE(BufferPool::Validate(24 << 20, 64 << 10, 1 << 20, 0).ok());
}

TEST(StartThread, NamesTheThreadAndSwallowsExceptions) {
  std::string name;
  auto t = StartThread("stream-test", [&] {
    char buf[16] = {};
    pthread_getname_np(pthread_self(), buf, sizeof(buf));
    name = buf;
    throw std::runtime_error("a client made this happen");
  });
  ASSERT_TRUE(t.ok()) << t.status();
  t->join();  // the process is still here: the exception did not reach std::terminate
  EXPECT_EQ(name, "stream-test");
}

}  // namespace
}  // namespace cricket::streaming
