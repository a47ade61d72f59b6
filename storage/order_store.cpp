#include "storage/order_store.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/write_batch.h>

#include "storage/log_sync_env.hpp"
#include "storage/store_keys.hpp"

namespace paycoord {

using namespace store_detail;

namespace {

/// Collects what a non-paranoid open reports dropping from the log
/// ("<file>: dropping N bytes; <reason>", from the thread that opens) and
/// ignores the rest of LevelDB's chatter.
class salvage_logger : public leveldb::Logger {
public:
  explicit salvage_logger(log_salvage& out) : out_(out) {
  }

  void Logv(const char* format, std::va_list ap) override {
    char line[512];
    std::vsnprintf(line, sizeof(line), format, ap);
    std::string_view text{line};
    constexpr std::string_view marker = ": dropping ";
    auto at = text.find(marker);
    if (at == std::string_view::npos)
      return;
    ++out_.drops;
    out_.bytes += std::strtoull(line + at + marker.size(), nullptr, 10);
    if (out_.first.empty())
      out_.first = std::string{text};
  }

private:
  log_salvage& out_;
};

/// A synced write of a scratch file in `dir`: does the disk take writes?
leveldb::Status probe_disk(leveldb::Env* env, const std::string& dir) {
  auto name = dir + "/paycoord-probe";
  leveldb::WritableFile* raw = nullptr;
  auto s = env->NewWritableFile(name, &raw);
  if (!s.ok())
    return s;
  std::unique_ptr<leveldb::WritableFile> file{raw};
  s = file->Append(std::string(4096, '\0'));
  if (s.ok())
    s = file->Sync();
  if (s.ok())
    s = file->Close();
  file.reset();
  env->RemoveFile(name);
  return s;
}

} // namespace

order_store::order_store(std::unique_ptr<log_sync_env> env, std::unique_ptr<leveldb::DB> db,
                         std::string dir, store_options opts)
  : env_(std::move(env)), db_(std::move(db)), dir_(std::move(dir)), opts_(opts) {
}

order_store::~order_store() = default;

expected<std::unique_ptr<leveldb::DB>, store_error>
order_store::open_db(const std::string& dir, const store_options& opts, leveldb::Env* env,
                     log_salvage& salvage) {
  salvage = {};
  leveldb::Options options;
  options.create_if_missing = opts.create_if_missing;
  options.paranoid_checks = true;
  options.env = env;
  leveldb::DB* raw = nullptr;
  auto s = leveldb::DB::Open(options, dir, &raw);
  if (s.IsCorruption()) {
    // A paranoid open refuses a log with a stretch that fails its checksum
    // (garbage after a torn last record). Without paranoid checks LevelDB
    // skips such stretches, reporting each to the info log, and recovers the
    // rest into a table; the manifest and the tables are checked the same
    // either way. Then open paranoid again: the salvaged log is gone.
    salvage_logger logger{salvage};
    auto lenient = options;
    lenient.paranoid_checks = false;
    lenient.info_log = &logger;
    s = leveldb::DB::Open(lenient, dir, &raw);
    if (s.ok()) {
      delete raw; // waits for its compactions: the logger outlives them
      raw = nullptr;
      s = leveldb::DB::Open(options, dir, &raw);
    }
  }
  if (!s.ok())
    return make_unexpected(store_error{store_errc::io, dir, s.ToString()});
  return std::unique_ptr<leveldb::DB>{raw};
}

expected<done, store_error> order_store::reopen() {
  // Never write on the old handle again, even once the disk works: after a
  // failed append LevelDB's log writer counts the bytes it could not write
  // (its block offsets no longer match the file, which may also end in a
  // torn record), so whatever it appended next would not read back at the
  // next open: records dropped, or with paranoid checks no open at all. After
  // a failed sync LevelDB refuses every write anyway. Opening again replays
  // the log, cut back to its last synced byte, into a table and starts a
  // fresh one. The disk is tried first so that the old handle keeps serving
  // reads while the fault lasts.
  if (auto s = probe_disk(env_.get(), dir_); !s.ok())
    return make_unexpected(io_error("", s));
  db_.reset(); // LevelDB allows one open handle per directory
  if (auto s = env_->cut_unsynced_tails(); !s.ok())
    return make_unexpected(io_error("", s));
  auto db = open_db(dir_, opts_, env_.get(), salvage_);
  if (!db)
    return make_unexpected(db.error());
  leveldb::WriteOptions wo;
  wo.sync = true;
  if (auto s = (*db)->Put(wo, slice(schema_key), std::to_string(schema_version)); !s.ok())
    return make_unexpected(io_error(schema_key, s));
  db_ = std::move(*db);
  write_failed_ = false;
  return done{};
}

expected<std::unique_ptr<order_store>, store_error>
order_store::open(const std::string& dir, store_options opts) {
  auto env = std::make_unique<log_sync_env>(opts.env != nullptr ? opts.env
                                                               : leveldb::Env::Default());
  log_salvage salvage;
  auto db = open_db(dir, opts, env.get(), salvage);
  if (!db)
    return make_unexpected(db.error());
  std::unique_ptr<order_store> store{
    new order_store(std::move(env), std::move(*db), dir, opts)};
  store->salvage_ = std::move(salvage);
  if (auto loaded = store->load_schema(); !loaded)
    return make_unexpected(loaded.error());
  return store;
}

// -- keys --------------------------------------------------------------------

std::string order_store::order_key(std::string_view out_trade_no) {
  std::string key{order_prefix};
  key += out_trade_no;
  return key;
}

namespace {

/// `prefix` + `owner` + "/" + `name`: the keys of what belongs to one order
/// (its events, refunds, orphan events) sort together under `prefix owner /`.
std::string owned_key(std::string_view prefix, std::string_view owner, std::string_view name) {
  std::string key{prefix};
  key += owner;
  key += '/';
  key += name;
  return key;
}

} // namespace

std::string order_store::event_key(std::string_view out_trade_no,
                                   uint64_t seq) {
  // Zero-padded so that byte order is seq order.
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%020llu",
                static_cast<unsigned long long>(seq));
  return owned_key(event_prefix, out_trade_no, buf);
}


std::string order_store::notification_key(std::string_view notification_id) {
  return std::string{notification_prefix} + std::string{notification_id};
}

std::string order_store::orphan_event_key(std::string_view out_trade_no,
                                          std::string_view notification_id) {
  return owned_key(orphan_event_prefix, out_trade_no, notification_id);
}

std::string order_store::timer_key(int64_t due_ms, std::string_view out_trade_no) {
  char buf[due_digits + 1];
  std::snprintf(buf, sizeof(buf), "%020lld", static_cast<long long>(std::max<int64_t>(due_ms, 0)));
  std::string key{timer_prefix};
  key.append(buf, due_digits);
  key += '/';
  key += out_trade_no;
  return key;
}

std::string order_store::refund_key(std::string_view out_trade_no,
                                    std::string_view out_refund_no) {
  return owned_key(refund_prefix, out_trade_no, out_refund_no);
}

std::string order_store::refund_owner_key(std::string_view out_refund_no) {
  return std::string{refund_owner_prefix} + std::string{out_refund_no};
}

bool operator<(const timer_entry& x, const timer_entry& y) {
  return x.due_ms != y.due_ms ? x.due_ms < y.due_ms : x.out_trade_no < y.out_trade_no;
}

bool operator==(const timer_entry& x, const timer_entry& y) {
  return x.due_ms == y.due_ms && x.out_trade_no == y.out_trade_no;
}

// -- writes ------------------------------------------------------------------

expected<done, store_error>
order_store::commit(const std::vector<const write_set*>& sets, bool sync) {
  leveldb::WriteBatch batch;
  auto counts = counts_;
  bool moved = false;
  for (auto* set : sets) {
    for (auto& [order, before] : set->orders) {
      batch.Put(order_key(order.out_trade_no), encode(order));
      // The index entry moves with the record, in the same batch: after any
      // crash an active order has exactly the one entry its record names.
      auto after = facts_of(order);
      auto old_due = before ? before->timer_due_ms : -1;
      if (old_due != after.timer_due_ms) {
        if (old_due >= 0)
          batch.Delete(timer_key(old_due, order.out_trade_no));
        if (after.has_timer())
          batch.Put(timer_key(after.timer_due_ms, order.out_trade_no), leveldb::Slice{});
      }
      counts.moved(before, after);
      moved = true;
    }
    for (auto& [refund, before] : set->refunds) {
      batch.Put(refund_key(refund.out_trade_no, refund.out_refund_no), encode(refund));
      if (!before)
        batch.Put(refund_owner_key(refund.out_refund_no), refund.out_trade_no);
      counts.moved(before, refund_facts_of(refund));
      moved = true;
    }
    for (auto& [out_trade_no, event] : set->events)
      batch.Put(event_key(out_trade_no, event.seq), encode(event));
    for (auto& [id, out_trade_no] : set->notifications)
      batch.Put(notification_key(id), out_trade_no);
    for (auto& x : set->orphan_events)
      batch.Put(orphan_event_key(x.out_trade_no, x.notification_id), encode(x.event));
  }
  if (moved)
    batch.Put(slice(counts_key), encode(counts));
  if (auto written = write_batch(batch, sync); !written)
    return written;
  counts_ = counts;
  write_sets_ += sets.size();
  ++batches_;
  if (sync)
    ++syncs_;
  return done{};
}

expected<done, store_error> order_store::commit(const write_set& set,
                                                bool sync) {
  return commit(std::vector<const write_set*>{&set}, sync);
}

expected<done, store_error> order_store::write_batch(leveldb::WriteBatch& batch, bool sync) {
  if (!db_)
    return make_unexpected(closed_error());
  if (write_failed_)
    return make_unexpected(refused_error());
  leveldb::WriteOptions wo;
  wo.sync = sync;
  if (auto s = db_->Write(wo, &batch); !s.ok()) {
    write_failed_ = true;
    return make_unexpected(io_error("", s));
  }
  return done{};
}

expected<done, store_error> order_store::put_raw(std::string_view key,
                                                 std::string_view value) {
  leveldb::WriteBatch batch;
  batch.Put(slice(key), slice(value));
  return write_batch(batch);
}

// -- reads -------------------------------------------------------------------

expected<std::optional<order_record>, store_error>
order_store::get_order(std::string_view out_trade_no) const {
  if (!db_)
    return make_unexpected(closed_error());
  auto key = order_key(out_trade_no);
  std::string value;
  auto s = db_->Get(leveldb::ReadOptions{}, key, &value);
  if (s.IsNotFound())
    return std::optional<order_record>{};
  if (!s.ok())
    return make_unexpected(io_error(key, s));
  auto record = decode_order(key, value);
  if (!record)
    return make_unexpected(record.error());
  return std::optional<order_record>{std::move(*record)};
}

expected<std::vector<order_event>, store_error>
order_store::events(std::string_view out_trade_no, uint64_t after_seq,
                    size_t limit) const {
  if (!db_)
    return make_unexpected(closed_error());
  auto prefix = owned_key(event_prefix, out_trade_no, "");
  return scan_prefix<order_event>(prefix, event_key(out_trade_no, after_seq + 1), limit,
                                  decode_event);
}

template <class T, class Decode>
expected<std::vector<T>, store_error>
order_store::scan_prefix(const std::string& prefix, const std::string& start, size_t limit,
                         Decode decode) const {
  std::vector<T> result;
  std::unique_ptr<leveldb::Iterator> it{db_->NewIterator({})};
  for (it->Seek(start); it->Valid() && result.size() < limit; it->Next()) {
    auto key = view(it->key());
    if (key.substr(0, prefix.size()) != prefix)
      break;
    auto value = decode(key, view(it->value()));
    if (!value)
      return make_unexpected(value.error());
    result.push_back(std::move(*value));
  }
  if (!it->status().ok())
    return make_unexpected(io_error(prefix, it->status()));
  return result;
}

expected<std::optional<std::string>, store_error>
order_store::get_text(const std::string& key) const {
  std::string value;
  auto s = db_->Get(leveldb::ReadOptions{}, key, &value);
  if (s.IsNotFound())
    return std::optional<std::string>{};
  if (!s.ok())
    return make_unexpected(io_error(key, s));
  return std::optional<std::string>{std::move(value)};
}

expected<std::optional<std::string>, store_error>
order_store::find_notification(std::string_view notification_id) const {
  if (!db_)
    return make_unexpected(closed_error());
  return get_text(notification_key(notification_id));
}

expected<order_page, store_error>
order_store::scan_orders(std::string_view after, size_t limit,
                         const order_filter& filter,
                         size_t max_examined) const {
  if (!db_)
    return make_unexpected(closed_error());
  order_page page;
  std::unique_ptr<leveldb::Iterator> it{db_->NewIterator({})};
  auto start = order_key(after);
  it->Seek(start);
  if (!after.empty() && it->Valid() && view(it->key()) == start)
    it->Next();
  size_t examined = 0;
  std::string last;
  for (; it->Valid(); it->Next()) {
    auto key = view(it->key());
    if (key.substr(0, order_prefix.size()) != order_prefix)
      break;
    if (page.orders.size() == limit) {
      page.next = page.orders.back().out_trade_no;
      return page;
    }
    if (examined == max_examined) {
      page.next = last;
      return page;
    }
    ++examined;
    auto record = decode_order(key, view(it->value()));
    if (!record)
      return make_unexpected(record.error());
    last = record->out_trade_no;
    if (filter.matches(*record))
      page.orders.push_back(std::move(*record));
  }
  if (!it->status().ok())
    return make_unexpected(io_error(start, it->status()));
  return page;
}

void order_store::for_each_order(
  const std::function<void(const order_record&)>& f,
  const std::function<void(const store_error&)>& on_error) const {
  if (!db_) {
    on_error(closed_error());
    return;
  }
  std::unique_ptr<leveldb::Iterator> it{db_->NewIterator({})};
  for (it->Seek(slice(order_prefix)); it->Valid(); it->Next()) {
    auto key = view(it->key());
    if (key.substr(0, order_prefix.size()) != order_prefix)
      break;
    auto record = decode_order(key, view(it->value()));
    if (record)
      f(*record);
    else
      on_error(record.error());
  }
  if (!it->status().ok())
    on_error(io_error(order_prefix, it->status()));
}

expected<std::vector<refund_record>, store_error>
order_store::refunds(std::string_view out_trade_no) const {
  if (!db_)
    return make_unexpected(closed_error());
  auto prefix = refund_key(out_trade_no, "");
  return scan_prefix<refund_record>(prefix, prefix, std::numeric_limits<size_t>::max(),
                                    decode_refund);
}

expected<std::optional<std::string>, store_error>
order_store::refund_owner(std::string_view out_refund_no) const {
  if (!db_)
    return make_unexpected(closed_error());
  return get_text(refund_owner_key(out_refund_no));
}

expected<order_store::refund_page, store_error>
order_store::scan_refunds(std::string_view after, size_t limit, std::optional<refund_state> state,
                          size_t max_examined) const {
  if (!db_)
    return make_unexpected(closed_error());
  refund_page page;
  std::unique_ptr<leveldb::Iterator> it{db_->NewIterator({})};
  std::string start = after.empty() ? std::string{refund_prefix} : std::string{after};
  it->Seek(start);
  if (!after.empty() && it->Valid() && view(it->key()) == start)
    it->Next();
  size_t examined = 0;
  std::string last;
  for (; it->Valid(); it->Next()) {
    auto key = view(it->key());
    if (key.substr(0, refund_prefix.size()) != refund_prefix)
      break;
    if (page.refunds.size() == limit || examined == max_examined) {
      page.next = last;
      return page;
    }
    ++examined;
    last = std::string{key};
    auto refund = decode_refund(key, view(it->value()));
    if (!refund)
      return make_unexpected(refund.error());
    if (!state || refund->state == *state)
      page.refunds.push_back(std::move(*refund));
  }
  if (!it->status().ok())
    return make_unexpected(io_error(start, it->status()));
  return page;
}

expected<bool, store_error> order_store::timer_indexed(const order_record& x) const {
  if (!db_)
    return make_unexpected(closed_error());
  auto facts = facts_of(x);
  if (!facts.has_timer())
    return false;
  auto key = timer_key(facts.timer_due_ms, x.out_trade_no);
  std::string value;
  auto s = db_->Get(leveldb::ReadOptions{}, key, &value);
  if (s.IsNotFound())
    return false;
  if (!s.ok())
    return make_unexpected(io_error(key, s));
  return true;
}

expected<std::vector<timer_entry>, store_error>
order_store::timers(const std::optional<timer_entry>& after, int64_t until_ms,
                    size_t limit) const {
  if (!db_)
    return make_unexpected(closed_error());
  std::vector<timer_entry> result;
  std::unique_ptr<leveldb::Iterator> it{db_->NewIterator({})};
  auto start = after ? timer_key(after->due_ms, after->out_trade_no) : std::string{timer_prefix};
  it->Seek(start);
  if (after && it->Valid() && view(it->key()) == start)
    it->Next();
  for (; it->Valid() && result.size() < limit; it->Next()) {
    auto key = view(it->key());
    if (key.substr(0, timer_prefix.size()) != timer_prefix)
      break;
    auto rest = key.substr(timer_prefix.size());
    if (rest.size() <= due_digits + 1 || rest[due_digits] != '/')
      continue; // not a key of ours
    auto due = std::strtoll(std::string{rest.substr(0, due_digits)}.c_str(), nullptr, 10);
    if (due > until_ms)
      break;
    result.push_back(timer_entry{due, std::string{rest.substr(due_digits + 1)}});
  }
  if (!it->status().ok())
    return make_unexpected(io_error(timer_prefix, it->status()));
  return result;
}

expected<std::vector<orphan_event>, store_error>
order_store::orphan_events(std::string_view out_trade_no, std::string_view after_key,
                           size_t limit) const {
  if (!db_)
    return make_unexpected(closed_error());
  std::string prefix = out_trade_no.empty() ? std::string{orphan_event_prefix}
                                             : orphan_event_key(out_trade_no, "");
  std::vector<orphan_event> result;
  std::unique_ptr<leveldb::Iterator> it{db_->NewIterator({})};
  it->Seek(after_key.empty() ? slice(prefix) : slice(after_key));
  if (!after_key.empty() && it->Valid() && view(it->key()) == after_key)
    it->Next();
  for (; it->Valid() && result.size() < limit; it->Next()) {
    auto key = view(it->key());
    if (key.substr(0, prefix.size()) != prefix)
      break;
    auto rest = key.substr(orphan_event_prefix.size());
    auto slash = rest.find('/');
    if (slash == std::string_view::npos)
      continue; // not ours
    auto event = decode_event(key, view(it->value()));
    if (!event)
      return make_unexpected(event.error());
    result.push_back(orphan_event{std::string{rest.substr(0, slash)},
                                  std::string{rest.substr(slash + 1)}, std::move(*event)});
  }
  if (!it->status().ok())
    return make_unexpected(io_error(prefix, it->status()));
  return result;
}

uint64_t order_store::approximate_size() const {
  uint64_t size = 0;
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator{dir_, ec})
    if (entry.is_regular_file(ec))
      size += entry.file_size(ec);
  return size;
}

store_stats order_store::stats() const {
  return store_stats{write_sets_.load(), batches_.load(), syncs_.load(), approximate_size()};
}

} // namespace paycoord
