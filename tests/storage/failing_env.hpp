#pragma once

// Fault injection for the store, as LevelDB's own tests do it: a wrapper
// around the real Env whose log and table writes fail while `failing` is set
// or once `space_left` runs out (a full disk: ENOSPC, as LevelDB's posix Env
// reports it), and whose syncs fail while `failing_sync` is set (EIO on
// fsync: LevelDB then refuses every write until it is reopened).

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include <leveldb/env.h>

namespace paycoord::testing {

class failing_env : public leveldb::EnvWrapper {
public:
  failing_env() : leveldb::EnvWrapper(leveldb::Env::Default()) {
  }

  /// While true, every Append fails with ENOSPC and writes nothing.
  std::atomic<bool> failing{false};
  /// Bytes the disk still takes over all files; -1 is unlimited. An Append
  /// beyond it writes the part that fits and fails with ENOSPC, like a
  /// write(2) cut short by a full disk: the file ends in a torn record.
  std::atomic<int64_t> space_left{-1};
  /// While true, every Sync fails with EIO.
  std::atomic<bool> failing_sync{false};
  /// Appends refused so far.
  std::atomic<int> refused{0};

  /// Back to a healthy disk (the counters stay).
  void heal() {
    failing = false;
    failing_sync = false;
    space_left = -1;
  }

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** out) override {
    return wrap(name, target()->NewWritableFile(name, out), out);
  }

  leveldb::Status NewAppendableFile(const std::string& name,
                                    leveldb::WritableFile** out) override {
    return wrap(name, target()->NewAppendableFile(name, out), out);
  }

private:
  class file : public leveldb::WritableFile {
  public:
    file(std::string name, leveldb::WritableFile* base, failing_env& env)
      : name_(std::move(name)), base_(base), env_(env) {
    }

    leveldb::Status Append(const leveldb::Slice& data) override {
      size_t fits = env_.failing ? 0 : take(data.size());
      if (fits == data.size())
        return base_->Append(data);
      ++env_.refused;
      if (fits > 0)
        if (auto s = base_->Append(leveldb::Slice{data.data(), fits}); !s.ok())
          return s;
      return leveldb::Status::IOError(name_, std::strerror(ENOSPC));
    }

    leveldb::Status Close() override {
      return base_->Close();
    }

    leveldb::Status Flush() override {
      return base_->Flush();
    }

    leveldb::Status Sync() override {
      if (env_.failing_sync)
        return leveldb::Status::IOError(name_, std::strerror(EIO));
      return base_->Sync();
    }

  private:
    /// How many of `n` bytes the disk takes now.
    size_t take(size_t n) {
      auto left = env_.space_left.load();
      while (left >= 0) {
        auto fits = std::min<int64_t>(left, static_cast<int64_t>(n));
        if (env_.space_left.compare_exchange_weak(left, left - fits))
          return static_cast<size_t>(fits);
      }
      return n;
    }

    std::string name_;
    std::unique_ptr<leveldb::WritableFile> base_;
    failing_env& env_;
  };

  leveldb::Status wrap(const std::string& name, leveldb::Status s, leveldb::WritableFile** out) {
    if (s.ok())
      *out = new file(name, *out, *this);
    return s;
  }
};

} // namespace paycoord::testing
