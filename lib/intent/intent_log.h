// Intent records: how a multi-step operation survives a kill -9 of its process (DESIGN.md, "Process
// model").
//
// absl::Cleanup undoes a failed step, but nothing runs when the process is killed. So an operation that
// makes several side effects (a namespace pin, a mount, a CNI attachment, a monitor process, a storage
// directory) first writes an intent — what it is about to create or change, and where — and removes it
// once it has completed, or once its failure has been rolled back. A process killed in between leaves
// the intent on disk; the next one reads every pending intent before it serves and either completes the
// operation or rolls it back. Both must be idempotent: a crash during that recovery leaves the intent in
// place for the start after.
//
//   ASSIGN_OR_RETURN(intent::Intent in, log.Begin("run-pod-sandbox", id, {{"record", ...}}));
//   ... side effects, each undone by an absl::Cleanup when a later one fails ...
//   RETURN_IF_ERROR(in.Note("monitor_pid", pid));  // facts learned on the way that recovery needs
//   ... the commit point (the object's own record) ...
//   in.Done();  // also what the destructor does: a failure that rolled back is resolved too
//
//   // at start, before serving:
//   for (const intent::Record& r : log.Pending(&problems)) { complete or roll back; log.Resolve(r); }
//
// Records are small JSON files in one directory (written atomically and fsynced: an intent must be on
// disk before the first side effect it announces), named so that listing them gives their order.
#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::intent {

// One pending intent as read back.
struct Record {
  std::string file;     // absolute path of the record
  std::string kind;     // the operation: "run-pod-sandbox", "create-container", ...
  std::string object;   // the id of what it creates or changes
  int64_t started = 0;  // unix nanoseconds when it was written
  int owner_pid = 0;    // the process that wrote it
  nlohmann::json data = nlohmann::json::object();  // what the operation announced and noted
};

class Log;

// An open intent, owned by the operation. Move-only; resolved (its file removed) by Done() or by the
// destructor, unless Keep() was called.
class Intent {
 public:
  Intent(Intent&& o) noexcept;
  Intent& operator=(Intent&&) = delete;
  ~Intent();

  // Adds (or replaces) data["key"] and rewrites the record before returning.
  absl::Status Note(std::string_view key, nlohmann::json value);
  // The operation is complete or rolled back: the record is removed.
  absl::Status Done();
  // Leaves the record for the next start to resolve (a rollback that could not finish).
  void Keep() { file_.clear(); }

  const std::string& file() const { return file_; }
  const Record& record() const { return record_; }

 private:
  friend class Log;
  Intent(std::string file, Record record) : file_(std::move(file)), record_(std::move(record)) {}
  std::string file_;  // "" once resolved or kept
  Record record_;
};

class Log {
 public:
  // Records live in `dir` (created 0700 when missing).
  static absl::StatusOr<Log> Open(std::string dir);

  Log(Log&& o) noexcept : dir_(std::move(o.dir_)), seq_(o.seq_.load()) {}
  Log& operator=(Log&&) = delete;

  // Writes the record before returning: the caller may then make its first side effect. `kind` and
  // `object` are single path-safe words ([A-Za-z0-9_.-]).
  absl::StatusOr<Intent> Begin(std::string_view kind, std::string_view object,
                               nlohmann::json data = nlohmann::json::object());

  // Every record left by a process that died mid-operation, oldest first. A record that cannot be read
  // or parsed is renamed to "damaged-<name>" (kept for inspection, never read again) and described in
  // `problems`, naming the file. The temporary file of a record whose write was killed is removed.
  absl::StatusOr<std::vector<Record>> Pending(std::vector<std::string>* problems);

  // Removes a pending record once recovery has completed or rolled back its operation.
  absl::Status Resolve(const Record& record);

  const std::string& dir() const { return dir_; }

 private:
  explicit Log(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  std::atomic<uint64_t> seq_{0};
};

// Serialisation, exposed for tests.
std::string RecordToJson(const Record& r);
absl::StatusOr<Record> RecordFromJson(std::string_view text, const std::string& file);

}  // namespace cricket::intent
