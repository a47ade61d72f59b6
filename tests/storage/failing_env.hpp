#pragma once

// Fault injection for the store, as LevelDB's own tests do it: a wrapper
// around the real Env whose log and table writes fail while `failing` is set
// (a full or broken disk), and whose syncs fail while `failing_sync` is set
// (EIO on fsync: LevelDB then refuses every write until it is reopened).

#include <atomic>
#include <memory>
#include <string>

#include <leveldb/env.h>

namespace paycoord::testing {

class failing_env : public leveldb::EnvWrapper {
public:
  failing_env() : leveldb::EnvWrapper(leveldb::Env::Default()) {
  }

  /// While true, every Append fails with an IOError.
  std::atomic<bool> failing{false};
  /// While true, every Sync fails with an IOError.
  std::atomic<bool> failing_sync{false};
  /// Appends refused so far.
  std::atomic<int> refused{0};

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** out) override {
    return wrap(target()->NewWritableFile(name, out), out);
  }

  leveldb::Status NewAppendableFile(const std::string& name,
                                    leveldb::WritableFile** out) override {
    return wrap(target()->NewAppendableFile(name, out), out);
  }

private:
  class file : public leveldb::WritableFile {
  public:
    file(leveldb::WritableFile* base, failing_env& env) : base_(base), env_(env) {
    }

    leveldb::Status Append(const leveldb::Slice& data) override {
      if (env_.failing) {
        ++env_.refused;
        return leveldb::Status::IOError("injected: no space left on device");
      }
      return base_->Append(data);
    }

    leveldb::Status Close() override {
      return base_->Close();
    }

    leveldb::Status Flush() override {
      return base_->Flush();
    }

    leveldb::Status Sync() override {
      if (env_.failing_sync)
        return leveldb::Status::IOError("injected: EIO on fsync");
      return base_->Sync();
    }

  private:
    std::unique_ptr<leveldb::WritableFile> base_;
    failing_env& env_;
  };

  leveldb::Status wrap(leveldb::Status s, leveldb::WritableFile** out) {
    if (s.ok())
      *out = new file(*out, *this);
    return s;
  }
};

} // namespace paycoord::testing
