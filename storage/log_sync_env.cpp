#include "storage/log_sync_env.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

namespace paycoord {

namespace {

bool is_log(const std::string& name) {
  constexpr std::string_view suffix = ".log";
  return name.size() > suffix.size()
         && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// As LevelDB's POSIX Env says it: a missing file is NotFound.
leveldb::Status posix_error(const std::string& name, int err) {
  if (err == ENOENT)
    return leveldb::Status::NotFound(name, std::strerror(err));
  return leveldb::Status::IOError(name, std::strerror(err));
}

/// Truncates `name` to `size` and syncs it; OK when the file is gone.
leveldb::Status truncate_file(const std::string& name, uint64_t size, uint64_t& cut) {
  int fd = ::open(name.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? leveldb::Status::OK() : posix_error(name, errno);
  struct stat st {};
  leveldb::Status s;
  if (::fstat(fd, &st) != 0)
    s = posix_error(name, errno);
  else if (static_cast<uint64_t>(st.st_size) > size) {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0 || ::fsync(fd) != 0)
      s = posix_error(name, errno);
    else
      cut = static_cast<uint64_t>(st.st_size) - size;
  }
  ::close(fd);
  return s;
}

} // namespace

class log_sync_env::log_file : public leveldb::WritableFile {
public:
  log_file(std::string name, leveldb::WritableFile* base, log_sync_env& env)
    : name_(std::move(name)), base_(base), env_(env) {
  }

  leveldb::Status Append(const leveldb::Slice& data) override {
    auto s = base_->Append(data);
    if (s.ok())
      env_.appended(name_, data.size());
    return s;
  }

  leveldb::Status Close() override {
    return base_->Close();
  }

  leveldb::Status Flush() override {
    return base_->Flush();
  }

  leveldb::Status Sync() override {
    auto s = base_->Sync();
    if (s.ok())
      env_.synced(name_);
    return s;
  }

private:
  std::string name_;
  std::unique_ptr<leveldb::WritableFile> base_;
  log_sync_env& env_;
};

/// A table file read with pread(2): thread-safe, no mapping.
class pread_file : public leveldb::RandomAccessFile {
public:
  pread_file(std::string name, int fd) : name_(std::move(name)), fd_(fd) {
  }

  ~pread_file() override {
    ::close(fd_);
  }

  leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                       char* scratch) const override {
    auto got = ::pread(fd_, scratch, n, static_cast<off_t>(offset));
    *result = leveldb::Slice{scratch, got < 0 ? 0 : static_cast<size_t>(got)};
    return got < 0 ? posix_error(name_, errno) : leveldb::Status::OK();
  }

private:
  std::string name_;
  int fd_;
};

log_sync_env::log_sync_env(leveldb::Env* base) : leveldb::EnvWrapper(base) {
}

leveldb::Status log_sync_env::NewRandomAccessFile(const std::string& name,
                                                  leveldb::RandomAccessFile** out) {
  // Only over the real files: a test's in-memory Env has none to open.
  if (target() != leveldb::Env::Default())
    return target()->NewRandomAccessFile(name, out);
  int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *out = nullptr;
    return posix_error(name, errno);
  }
  *out = new pread_file(name, fd);
  return leveldb::Status::OK();
}

leveldb::Status log_sync_env::NewWritableFile(const std::string& name,
                                              leveldb::WritableFile** out) {
  auto s = target()->NewWritableFile(name, out);
  if (!s.ok() || !is_log(name))
    return s;
  {
    std::lock_guard guard{mtx_};
    logs_[name] = log_state{};
  }
  *out = new log_file(name, *out, *this);
  return s;
}

leveldb::Status log_sync_env::NewAppendableFile(const std::string& name,
                                                leveldb::WritableFile** out) {
  uint64_t size = 0;
  if (!target()->GetFileSize(name, &size).ok())
    size = 0;
  auto s = target()->NewAppendableFile(name, out);
  if (!s.ok() || !is_log(name))
    return s;
  {
    std::lock_guard guard{mtx_};
    logs_[name] = log_state{size, size}; // what was there is as durable as it gets
  }
  *out = new log_file(name, *out, *this);
  return s;
}

void log_sync_env::appended(const std::string& name, uint64_t n) {
  std::lock_guard guard{mtx_};
  logs_[name].size += n;
}

void log_sync_env::synced(const std::string& name) {
  std::lock_guard guard{mtx_};
  auto& x = logs_[name];
  x.synced = x.size;
}

leveldb::Status log_sync_env::cut_unsynced_tails() {
  std::lock_guard guard{mtx_};
  for (auto i = logs_.begin(); i != logs_.end();) {
    uint64_t cut = 0;
    if (auto s = truncate_file(i->first, i->second.synced, cut); !s.ok())
      return s;
    bytes_cut_ += cut;
    i = logs_.erase(i);
  }
  return leveldb::Status::OK();
}

uint64_t log_sync_env::bytes_cut() const {
  std::lock_guard guard{mtx_};
  return bytes_cut_;
}

} // namespace paycoord
