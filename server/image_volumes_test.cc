#include "server/image_volumes.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "lib/common/file_util.h"
#include "server/container_spec.h"

namespace cricket::server {
namespace {

namespace v1 = ::runtime::v1;

class ImageVolumeSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-imgvol-spec-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MkdirAll(dir_ + "/rootfs/etc").ok());
    image_.cmd = std::vector<std::string>{"/bin/sh"};
    config_.mutable_metadata()->set_name("c1");
    config_.mutable_image()->set_image("busybox");
    in_.id = "abc";
    in_.config = &config_;
    in_.image = &image_;
    in_.rootfs = dir_ + "/rootfs";
    in_.daemon = &daemon_;
    in_.sandbox.pidns_path = "/proc/1/ns/pid";
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  v1::Mount* AddImageMount(const std::string& image, const std::string& path) {
    v1::Mount* m = config_.add_mounts();
    m->set_container_path(path);
    m->mutable_image()->set_image(image);
    return m;
  }

  std::string dir_;
  image::ImageConfig image_;
  v1::ContainerConfig config_;
  Config daemon_;
  ContainerSpecInput in_;
};

TEST_F(ImageVolumeSpecTest, BindMountedReadOnlyNodevNosuid) {
  EXPECT_TRUE(IsImageVolume(*AddImageMount("tools:1", "/opt/tools/")));
  v1::Mount plain;
  plain.set_host_path("/srv");
  EXPECT_FALSE(IsImageVolume(plain));
  in_.image_volumes = {
      {"/opt/tools", "/var/lib/cricket/storage/overlay-containers/abc/image-volumes/0/merged/bin"}};
  auto spec = BuildContainerSpec(in_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto m = std::find_if(spec->mounts.begin(), spec->mounts.end(),
                        [](const oci::Mount& x) { return x.destination == "/opt/tools"; });
  ASSERT_NE(m, spec->mounts.end());
  EXPECT_EQ(m->source, in_.image_volumes[0].source);
  for (const char* opt : {"rbind", "ro", "nosuid", "nodev"}) {
    EXPECT_NE(std::find(m->options.begin(), m->options.end(), opt), m->options.end()) << opt;
  }
  EXPECT_EQ(std::find(m->options.begin(), m->options.end(), "noexec"), m->options.end());
}

TEST_F(ImageVolumeSpecTest, UnmountedOrUnsupportedAreRefused) {
  AddImageMount("tools:1", "/opt/tools");
  EXPECT_TRUE(absl::IsInternal(BuildContainerSpec(in_).status()));
  in_.image_volumes = {{"/opt/tools", "/x"}};
  config_.mutable_mounts(0)->add_mount_options("noatime");
  auto spec = BuildContainerSpec(in_);
  EXPECT_TRUE(absl::IsUnimplemented(spec.status())) << spec.status();
}

}  // namespace
}  // namespace cricket::server
