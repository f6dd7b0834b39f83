#include "cmd/cri-client/client.h"

#include <chrono>
#include <cstdio>

namespace cricket::cri_client {

std::unique_ptr<grpc::ClientContext> Ctx(int seconds) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

bool Check(const grpc::Status& st, const std::string& what) {
  if (st.ok()) return true;
  fprintf(stderr, "cricket-cri: %s: %s\n", what.c_str(), st.error_message().c_str());
  return false;
}

bool PullForBench(Client& c, const std::string& image) {
  ::runtime::v1::PullImageRequest pull;
  pull.mutable_image()->set_image(image);
  ::runtime::v1::PullImageResponse pulled;
  return Check(c.img->PullImage(Ctx(600).get(), pull, &pulled), "PullImage " + image);
}

}  // namespace cricket::cri_client
