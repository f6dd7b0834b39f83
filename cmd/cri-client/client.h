// cricket-cri's connection to a CRI endpoint and what every command uses with it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "runtime/v1/api.grpc.pb.h"

namespace cricket::cri_client {

struct Client {
  std::unique_ptr<::runtime::v1::RuntimeService::Stub> rt;
  std::unique_ptr<::runtime::v1::ImageService::Stub> img;
};

// A client context whose deadline is `seconds` from now.
std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 120);

// True when `st` is OK; otherwise prints "cricket-cri: <what>: <message>" to stderr.
bool Check(const grpc::Status& st, const std::string& what);

// The benchmarks pull their image once before timing anything.
bool PullForBench(Client& c, const std::string& image);

}  // namespace cricket::cri_client
