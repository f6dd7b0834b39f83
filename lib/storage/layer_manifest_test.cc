#include "lib/storage/layer_manifest.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/unique_fd.h"
#include "lib/storage/tar_apply.h"
#include "lib/storage/test_tar.h"

namespace cricket::storage {
namespace {

TEST(LayerManifestTest, RoundTripsOddNames) {
  LayerManifest m;
  ManifestEntry f;
  f.type = 'f';
  f.mode = 04755;
  f.uid = 1;
  f.gid = 2;
  f.size = 3;
  f.digest = "sha256:abc";
  f.xattrs["user.a=b,c"] = "00ff";
  m["dir with space/tab\tnew\nline%é"] = f;
  ManifestEntry l;
  l.type = 'l';
  l.target = "../x y";
  m["l"] = l;
  ManifestEntry c;
  c.type = 'c';
  c.rdev_major = 1;
  c.rdev_minor = 3;
  m["dev/null"] = c;
  auto back = ParseManifest(SerializeManifest(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, m);
  EXPECT_FALSE(ParseManifest("garbage\n").ok());
  std::string text = SerializeManifest(m);
  EXPECT_FALSE(ParseManifest(text.substr(0, text.size() - 3)).ok());
}

TEST(LayerManifestTest, VerifyDetectsChangedMissingAndExtraEntries) {
  char tmpl[] = "/tmp/cricket-manifest-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  UniqueFd root(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::string tar = testing::BuildTar(
      {testing::File("a", "aaaa"), testing::File("b", "bbbb"), testing::File("c", "cccc", 0755)});
  StringSource src(tar);
  auto r = ApplyLayerTar(src, root.get(), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(VerifyTree(root.get(), r->manifest)->empty());
  ASSERT_TRUE(WriteFileAtomic(dir + "/a", "aaab").ok());  // same size, other content
  ASSERT_EQ(chmod((dir + "/a").c_str(), 0644), 0);
  ASSERT_EQ(unlink((dir + "/b").c_str()), 0);
  ASSERT_EQ(chmod((dir + "/c").c_str(), 0777), 0);
  ASSERT_TRUE(WriteFileAtomic(dir + "/extra", "x").ok());
  auto problems = VerifyTree(root.get(), r->manifest);
  ASSERT_TRUE(problems.ok());
  std::string all;
  for (const auto& p : *problems) all += p + "\n";
  EXPECT_NE(all.find("a: content"), std::string::npos) << all;
  EXPECT_NE(all.find("b: missing"), std::string::npos) << all;
  EXPECT_NE(all.find("c: mode 0777"), std::string::npos) << all;
  EXPECT_NE(all.find("extra: not in the layer manifest"), std::string::npos) << all;
  root.reset();
  ASSERT_TRUE(RemoveAll(dir).ok());
}

}  // namespace
}  // namespace cricket::storage
