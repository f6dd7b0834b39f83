// cricket-cri bench-node (bench_node.cc).
#pragma once

#include <memory>
#include <string>

#include "cmd/cri-client/client.h"

namespace cricket::cri_client {

struct NodeBenchOptions {
  std::string image;
  std::string prefix = "bench";
  std::string log_root;
  std::string cgroup_parent;  // "": pods get none; else each pod gets <cgroup_parent>/pod<i>
  int pods = 110;
  int containers = 3;
  int steady_seconds = 60;
};

// Fills the node and relists; prints the figures; 0 when every RPC succeeded. `lister` is a second
// client (its own channel), as kubelet's relist does not queue behind the pod starts.
int BenchNode(Client& c, Client& lister, const NodeBenchOptions& options);

}  // namespace cricket::cri_client
