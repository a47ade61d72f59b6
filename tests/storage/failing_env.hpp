#pragma once

// Fault injection for the store, as LevelDB's own tests do it: a wrapper
// around the real Env whose log and table writes fail while `failing` is set
// (a full or broken disk). Syncs are left alone: a failed sync poisons a
// LevelDB until it is reopened, which is not what these tests are about.

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
