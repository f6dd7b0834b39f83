// The Stream* RPCs (KEP-5825, CRIListStreaming): the items of a List* RPC sent over a server stream in
// pages of at least one item, each item exactly once, the stream closed with OK (EOF) after the last
// (api.proto StreamPodSandboxes and siblings). A page holds up to kPageItems items or about kPageBytes
// bytes, so a node with many pods never hits the gRPC message size limit.
//
// The walk checks the call before every item: a client that cancels or whose deadline passes stops it
// at once (CANCELLED / DEADLINE_EXCEEDED), and a page write that fails (the client went away) ends it.
// Each walk starts from a snapshot of the ids, so an object created meanwhile is not sent and one
// removed meanwhile is skipped: nothing is sent twice. Every stream ends with one log line at debug
// level saying how many items it walked and why it ended.
#pragma once

#include <google/protobuf/repeated_ptr_field.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "lib/common/logging.h"

namespace cricket::server {

inline constexpr size_t kPageItems = 100;
inline constexpr size_t kPageBytes = 1 << 20;

template <class Response, class Item>
class PageWriter {
 public:
  using Field = google::protobuf::RepeatedPtrField<Item>* (Response::*)();

  PageWriter(std::string method, grpc::ServerContext* ctx, grpc::ServerWriter<Response>* writer, Field field)
      : method_(std::move(method)), ctx_(ctx), writer_(writer), field_(field) {}

  // Whether the walk may go on: the client is still there and its deadline has not passed.
  bool Alive() {
    if (!ended_.ok()) return false;
    if (ctx_->IsCancelled()) {
      ended_ = grpc::Status(grpc::StatusCode::CANCELLED, method_ + ": cancelled by the client");
    } else if (ctx_->deadline() <= std::chrono::system_clock::now()) {
      ended_ = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, method_ + ": deadline exceeded");
    }
    return ended_.ok();
  }

  // Adds one item, writing out a full page. False when the walk must stop (see Finish).
  bool Add(Item&& item) {
    if (!Alive()) return false;
    ++walked_;
    bytes_ += item.ByteSizeLong();
    *(page_.*field_)()->Add() = std::move(item);
    if ((page_.*field_)()->size() >= static_cast<int>(kPageItems) || bytes_ >= kPageBytes) return Flush();
    return true;
  }

  // Writes the last page; the stream's status (OK when every item was sent).
  grpc::Status Finish() {
    if (ended_.ok()) Flush();
    log::Debug("rpc", "stream ended",
               {{"method", method_},
                {"items", static_cast<int64_t>(walked_)},
                {"pages", static_cast<int64_t>(pages_)},
                {"code", static_cast<int>(ended_.error_code())}});
    return ended_;
  }

  size_t walked() const { return walked_; }

 private:
  bool Flush() {
    if ((page_.*field_)()->empty()) return true;
    if (!writer_->Write(page_)) {
      ended_ = grpc::Status(grpc::StatusCode::CANCELLED, method_ + ": the client went away");
      return false;
    }
    ++pages_;
    page_.Clear();
    bytes_ = 0;
    return true;
  }

  const std::string method_;
  grpc::ServerContext* ctx_;
  grpc::ServerWriter<Response>* writer_;
  const Field field_;
  Response page_;
  size_t bytes_ = 0;
  size_t walked_ = 0;
  size_t pages_ = 0;
  grpc::Status ended_ = grpc::Status::OK;
};

}  // namespace cricket::server
