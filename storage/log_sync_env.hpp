#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <leveldb/env.h>

namespace paycoord {

/// The Env the order store gives LevelDB: the real one (or a test's fault
/// injector), plus a record of how far each log file LevelDB writes was
/// synced, so that what a failed write left behind can be cut off.
///
/// Over the real (POSIX) Env it also reads table files with pread(2)
/// instead of LevelDB's mmap: mapped tables count in the process's resident
/// memory page by page (a scan of ten million orders mapped 1,000 tables,
/// 2 GB), while pread goes through the page cache, which the kernel owns
/// and reclaims.
///
/// Why: after a failed sync the record is in the log file anyway (the page
/// cache keeps it, whatever the disk did), and a reopen would replay it: a
/// write whose writer was told it failed would appear later, behind the back
/// of a writer that already decided on the old state. Cutting every log back
/// to its last synced byte before the reopen makes a failed commit a commit
/// that did not happen.
///
/// Thread-safe: LevelDB's writer and compaction threads call it at once.
class log_sync_env : public leveldb::EnvWrapper {
public:
  explicit log_sync_env(leveldb::Env* base);

  leveldb::Status NewWritableFile(const std::string& name,
                                  leveldb::WritableFile** out) override;
  leveldb::Status NewAppendableFile(const std::string& name,
                                    leveldb::WritableFile** out) override;
  leveldb::Status NewRandomAccessFile(const std::string& name,
                                      leveldb::RandomAccessFile** out) override;

  /// Truncates every log file written through this Env to its size at its
  /// last successful Sync (and syncs the truncation). Call only while no DB
  /// uses this Env. Files that no longer exist are skipped; on error nothing
  /// is forgotten, so a later call tries again.
  leveldb::Status cut_unsynced_tails();

  /// Bytes cut off by `cut_unsynced_tails` so far.
  uint64_t bytes_cut() const;

private:
  class log_file;

  struct log_state {
    uint64_t size = 0;   ///< bytes appended successfully
    uint64_t synced = 0; ///< of which synced
  };

  void appended(const std::string& name, uint64_t n);
  void synced(const std::string& name);

  // Guarded by mtx_.
  mutable std::mutex mtx_;
  std::map<std::string, log_state> logs_;
  uint64_t bytes_cut_ = 0;
};

} // namespace paycoord
