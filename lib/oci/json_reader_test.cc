#include "lib/oci/json_reader.h"

#include <gtest/gtest.h>

namespace cricket::oci::json {
namespace {

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(JsonReader, Paths) {
  EXPECT_EQ(FieldPath("", "a"), "a");
  EXPECT_EQ(FieldPath("a", "b"), "a.b");
  EXPECT_EQ(IndexPath("a", 3), "a[3]");
  EXPECT_EQ(KeyPath("sysctl", "net.ipv4.x"), "sysctl[\"net.ipv4.x\"]");
  EXPECT_EQ(KeyPath("m", "q\"uote"), "m[\"q\\\"uote\"]");
  EXPECT_EQ(Message(PathError("", "bad")), "bad");
}

TEST(JsonReader, IntegersAreRangeChecked) {
  int64_t i64 = 0;
  EXPECT_TRUE(Read(Json(INT64_MIN), "x", &i64).ok());
  EXPECT_EQ(i64, INT64_MIN);
  EXPECT_EQ(Message(Read(Json(UINT64_MAX), "x", &i64)),
            "x: value 18446744073709551615 out of range [-9223372036854775808, 9223372036854775807]");
  uint64_t u64 = 0;
  EXPECT_TRUE(Read(Json(UINT64_MAX), "x", &u64).ok());
  EXPECT_EQ(u64, UINT64_MAX);
  EXPECT_EQ(Message(Read(Json(-1), "x", &u64)), "x: value -1 out of range [0, 18446744073709551615]");
  uint16_t u16 = 0;
  EXPECT_TRUE(Read(Json(65535), "x", &u16).ok());
  EXPECT_EQ(Message(Read(Json(65536), "x", &u16)), "x: value 65536 out of range [0, 65535]");
  int32_t i32 = 0;
  EXPECT_EQ(Message(Read(Json(-2147483649LL), "x", &i32)),
            "x: value -2147483649 out of range [-2147483648, 2147483647]");
  EXPECT_EQ(Message(Read(Json(1.0), "x", &i32)), "x: expected integer, got number");
  EXPECT_EQ(Message(Read(Json(true), "x", &i32)), "x: expected integer, got boolean");
  EXPECT_EQ(Message(Read(Json("1"), "x", &u64)), "x: expected unsigned integer, got string");
}

TEST(JsonReader, ObjectAccessors) {
  Json j = Json::parse(R"({"s":"v","n":null,"arr":[1,2],"m":{"a":"b"},"o":{"k":1}})");
  absl::StatusOr<Object> o = Object::Of(j, "top");
  ASSERT_TRUE(o.ok());
  std::string s = "unchanged";
  EXPECT_TRUE(o->Opt("missing", &s).ok());
  EXPECT_EQ(s, "unchanged");
  EXPECT_TRUE(o->Opt("n", &s).ok());  // null is absent
  EXPECT_EQ(s, "unchanged");
  EXPECT_EQ(Message(o->Req("n", &s)), "top.n: required property missing");
  std::optional<std::string> opt;
  EXPECT_TRUE(o->Opt("s", &opt).ok());
  EXPECT_EQ(opt, "v");
  std::vector<int> arr;
  EXPECT_TRUE(o->OptArray("arr", &arr).ok());
  EXPECT_EQ(arr, (std::vector<int>{1, 2}));
  std::vector<std::string> strs;
  EXPECT_EQ(Message(o->OptArray("arr", &strs)), "top.arr[0]: expected string, got integer");
  std::map<std::string, std::string> m;
  EXPECT_TRUE(o->OptMap("m", &m).ok());
  EXPECT_EQ(m.at("a"), "b");
  EXPECT_EQ(Message(o->OptMap("s", &m)), "top.s: expected object, got string");
  EXPECT_EQ(Message(Object::Of(Json::array(), "x").status()), "x: expected object, got array");
}

}  // namespace
}  // namespace cricket::oci::json
