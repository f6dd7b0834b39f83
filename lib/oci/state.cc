#include "lib/oci/state.h"

#include <array>
#include <utility>

#include "lib/common/json_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/oci/json_reader.h"

namespace cricket::oci {

using json::Json;
using json::Object;

namespace {

constexpr std::array<std::pair<ContainerStatus, std::string_view>, 5> kStatusNames = {{
    {ContainerStatus::kCreating, "creating"},
    {ContainerStatus::kCreated, "created"},
    {ContainerStatus::kRunning, "running"},
    {ContainerStatus::kStopped, "stopped"},
    {ContainerStatus::kPaused, "paused"},
}};

absl::Status ReadState(const Json& v, const std::string& path, State* out) {
  ASSIGN_OR_RETURN(Object o, Object::Of(v, path));
  RETURN_IF_ERROR(o.Req("ociVersion", &out->oci_version));
  RETURN_IF_ERROR(o.Req("id", &out->id));
  std::string status;
  RETURN_IF_ERROR(o.Req("status", &status));
  std::optional<ContainerStatus> s = ParseContainerStatus(status);
  if (!s) return json::PathError(o.PathOf("status"), StrCat("unknown container status \"", status, "\""));
  out->status = *s;
  RETURN_IF_ERROR(o.Opt("pid", &out->pid));
  RETURN_IF_ERROR(o.Req("bundle", &out->bundle));
  RETURN_IF_ERROR(o.OptMap("annotations", &out->annotations));
  RETURN_IF_ERROR(o.Opt("rootfs", &out->rootfs));
  std::string created;
  RETURN_IF_ERROR(o.Opt("created", &created));
  if (!created.empty()) {
    absl::StatusOr<int64_t> ns = ParseRFC3339(created);
    if (!ns.ok()) return json::PathError(o.PathOf("created"), StrCat("invalid time \"", created, "\""));
    out->created_ns = *ns;
  }
  return o.Opt("owner", &out->owner);
}

}  // namespace

std::string_view ContainerStatusName(ContainerStatus status) {
  for (const auto& [s, name] : kStatusNames) {
    if (s == status) return name;
  }
  return "";
}

std::optional<ContainerStatus> ParseContainerStatus(std::string_view name) {
  for (const auto& [s, n] : kStatusNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

absl::StatusOr<State> ParseState(const Json& v) {
  State state;
  RETURN_IF_ERROR(ReadState(v, "", &state));
  return state;
}

absl::StatusOr<State> ParseStateText(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(Json v, ParseJson(text, what));
  absl::StatusOr<State> state = ParseState(v);
  if (!state.ok()) return Annotate(state.status(), what);
  return state;
}

Json StateToJson(const State& s) {
  Json j = Json::object();
  j["ociVersion"] = s.oci_version;
  j["id"] = s.id;
  j["status"] = ContainerStatusName(s.status);
  j["pid"] = s.pid;
  j["bundle"] = s.bundle;
  json::PutNonEmpty(j, "rootfs", s.rootfs);
  if (s.created_ns != 0) j["created"] = FormatRFC3339Nano(s.created_ns);
  // runc writes "owner" even when empty; tools only read it.
  j["owner"] = s.owner;
  json::PutNonEmpty(j, "annotations", s.annotations);
  return j;
}

std::string SerializeState(const State& state, int indent) {
  return StateToJson(state).dump(indent, ' ', false, Json::error_handler_t::replace);
}

Json ContainerProcessStateToJson(const ContainerProcessState& c) {
  Json j = Json::object();
  j["ociVersion"] = c.oci_version;
  j["fds"] = c.fds;
  j["pid"] = c.pid;
  json::PutNonEmpty(j, "metadata", c.metadata);
  j["state"] = StateToJson(c.state);
  return j;
}

absl::StatusOr<ContainerProcessState> ParseContainerProcessState(const Json& v) {
  ContainerProcessState c;
  ASSIGN_OR_RETURN(Object o, Object::Of(v, ""));
  RETURN_IF_ERROR(o.Req("ociVersion", &c.oci_version));
  RETURN_IF_ERROR(o.OptArray("fds", &c.fds));
  RETURN_IF_ERROR(o.Req("pid", &c.pid));
  RETURN_IF_ERROR(o.Opt("metadata", &c.metadata));
  const Json* state = o.Find("state");
  if (state == nullptr) return o.Missing("state");
  RETURN_IF_ERROR(ReadState(*state, "state", &c.state));
  return c;
}

}  // namespace cricket::oci
