// The intents cricketd's multi-step operations write before their first side effect (lib/intent), and
// what the data of each holds. Start-up recovery (recovery.cc) completes or rolls each back.
#pragma once

namespace cricket::server {

// RunPodSandbox; data "record": the sandbox record as planned (paths, cgroup parent, handler).
// Committed by the sandbox's record; otherwise rolled back.
inline constexpr char kIntentRunPodSandbox[] = "run-pod-sandbox";
// CreateContainer; data "record": the container record as planned, "cgroup_parent": its pod's.
// Committed by the container's record; otherwise rolled back.
inline constexpr char kIntentCreateContainer[] = "create-container";
// StartContainer: completed from the runtime's view of the container (released or not).
inline constexpr char kIntentStartContainer[] = "start-container";
// StopPodSandbox, RemovePodSandbox, RemoveContainer; data "record": the record when it began.
// Completed: an interrupted stop or removal is finished.
inline constexpr char kIntentStopPodSandbox[] = "stop-pod-sandbox";
inline constexpr char kIntentRemovePodSandbox[] = "remove-pod-sandbox";
inline constexpr char kIntentRemoveContainer[] = "remove-container";

}  // namespace cricket::server
