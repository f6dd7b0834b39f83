#include "server/sandbox_resources.h"

#include <google/protobuf/util/json_util.h>

#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "server/cri_runtime.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

void AddPodResourcesInfo(const SandboxRecord& s, nlohmann::json& info) {
  auto add = [&](const char* key, const std::optional<v1::LinuxContainerResources>& r) {
    if (!r) return;
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    if (!google::protobuf::util::MessageToJsonString(*r, &text, options).ok()) return;
    auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) info[key] = parsed;
  };
  add("podOverhead", s.pod_overhead);
  add("podResources", s.pod_resources);
}

absl::Status CriRuntime::UpdatePodSandboxResources(const v1::UpdatePodSandboxResourcesRequest& req) {
  ASSIGN_OR_RETURN(std::shared_ptr<Sandbox> sandbox, state_.FindSandbox(req.pod_sandbox_id()));
  // Under `mu` alone, as the exit monitor updates records: a stop or remove in progress (holding
  // op_mu) does not delay kubelet's resize.
  absl::MutexLock l(&sandbox->mu);
  if (!sandbox->committed) {
    return absl::NotFoundError(StrCat("pod sandbox \"", req.pod_sandbox_id(), "\" not found"));
  }
  SandboxRecord& s = sandbox->record;
  if (req.has_overhead()) s.pod_overhead = req.overhead();
  if (req.has_resources()) s.pod_resources = req.resources();
  if (absl::Status st = state_.Save(s); !st.ok()) {
    log::Warn("pod", "cannot record the pod-level resources (kept in memory)", {{"id", s.id}, {"error", st}});
  }
  return absl::OkStatus();
}

}  // namespace cricket::server
