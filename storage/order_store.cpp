#include "storage/order_store.hpp"

#include <cstdio>
#include <filesystem>

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>

namespace paycoord {

namespace {

constexpr std::string_view order_prefix = "o/";
constexpr std::string_view event_prefix = "e/";
constexpr std::string_view notification_prefix = "n/";
constexpr std::string_view orphan_event_prefix = "u/";
constexpr std::string_view schema_key = "m/schema";

store_error closed_error() {
  return store_error{store_errc::closed, "", "store is closed (a reopen failed)"};
}

store_error io_error(std::string_view key, const leveldb::Status& s) {
  return store_error{store_errc::io, std::string{key}, s.ToString()};
}

leveldb::Slice slice(std::string_view x) {
  return leveldb::Slice{x.data(), x.size()};
}

std::string_view view(const leveldb::Slice& x) {
  return std::string_view{x.data(), x.size()};
}

} // namespace

order_store::order_store(std::unique_ptr<leveldb::DB> db, std::string dir,
                         store_options opts)
  : db_(std::move(db)), dir_(std::move(dir)), opts_(opts) {
}

order_store::~order_store() = default;

expected<std::unique_ptr<leveldb::DB>, store_error>
order_store::open_db(const std::string& dir, const store_options& opts) {
  leveldb::Options options;
  options.create_if_missing = opts.create_if_missing;
  options.paranoid_checks = true;
  if (opts.env != nullptr)
    options.env = opts.env;
  leveldb::DB* raw = nullptr;
  auto s = leveldb::DB::Open(options, dir, &raw);
  if (!s.ok())
    return make_unexpected(store_error{store_errc::io, dir, s.ToString()});
  return std::unique_ptr<leveldb::DB>{raw};
}

expected<done, store_error> order_store::reopen() {
  leveldb::WriteOptions wo;
  wo.sync = true;
  auto probe = [&](leveldb::DB& db) {
    return db.Put(wo, slice(schema_key), std::to_string(schema_version));
  };
  // A passing fault (a full disk that has room again) leaves the handle
  // usable: a synced write tells. A failed sync does not: LevelDB then
  // refuses every write until it is opened again.
  if (db_ && probe(*db_).ok())
    return done{};
  db_.reset(); // LevelDB allows one open handle per directory
  auto db = open_db(dir_, opts_);
  if (!db)
    return make_unexpected(db.error());
  if (auto s = probe(**db); !s.ok())
    return make_unexpected(io_error(schema_key, s));
  db_ = std::move(*db);
  return done{};
}

expected<std::unique_ptr<order_store>, store_error>
order_store::open(const std::string& dir, store_options opts) {
  auto db = open_db(dir, opts);
  if (!db)
    return make_unexpected(db.error());
  std::unique_ptr<order_store> store{new order_store(std::move(*db), dir, opts)};
  leveldb::Status s;
  // Check or stamp the schema version.
  std::string value;
  s = store->db_->Get(leveldb::ReadOptions{}, slice(schema_key), &value);
  if (s.IsNotFound()) {
    leveldb::WriteOptions wo;
    wo.sync = true;
    s = store->db_->Put(wo, slice(schema_key),
                        std::to_string(schema_version));
    if (!s.ok())
      return make_unexpected(io_error(schema_key, s));
  } else if (!s.ok()) {
    return make_unexpected(io_error(schema_key, s));
  } else if (value != std::to_string(schema_version)) {
    return make_unexpected(
      store_error{store_errc::unknown_version, std::string{schema_key},
                  "store schema '" + value + "', this build reads "
                    + std::to_string(schema_version)});
  }
  return store;
}

// -- keys --------------------------------------------------------------------

std::string order_store::order_key(std::string_view out_trade_no) {
  std::string key{order_prefix};
  key += out_trade_no;
  return key;
}

std::string order_store::event_key(std::string_view out_trade_no,
                                   uint64_t seq) {
  // Zero-padded so that byte order is seq order.
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%020llu",
                static_cast<unsigned long long>(seq));
  std::string key{event_prefix};
  key += out_trade_no;
  key += '/';
  key += buf;
  return key;
}

std::string order_store::notification_key(std::string_view notification_id) {
  std::string key{notification_prefix};
  key += notification_id;
  return key;
}

std::string order_store::orphan_event_key(std::string_view out_trade_no,
                                          std::string_view notification_id) {
  std::string key{orphan_event_prefix};
  key += out_trade_no;
  key += '/';
  key += notification_id;
  return key;
}

// -- writes ------------------------------------------------------------------

expected<done, store_error>
order_store::commit(const std::vector<const write_set*>& sets, bool sync) {
  leveldb::WriteBatch batch;
  for (auto* set : sets) {
    for (auto& order : set->orders)
      batch.Put(order_key(order.out_trade_no), encode(order));
    for (auto& [out_trade_no, event] : set->events)
      batch.Put(event_key(out_trade_no, event.seq), encode(event));
    for (auto& [id, out_trade_no] : set->notifications)
      batch.Put(notification_key(id), out_trade_no);
    for (auto& x : set->orphan_events)
      batch.Put(orphan_event_key(x.out_trade_no, x.notification_id), encode(x.event));
  }
  if (!db_)
    return make_unexpected(closed_error());
  leveldb::WriteOptions wo;
  wo.sync = sync;
  auto s = db_->Write(wo, &batch);
  if (!s.ok())
    return make_unexpected(io_error("", s));
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

expected<done, store_error> order_store::put_raw(std::string_view key,
                                                 std::string_view value) {
  if (!db_)
    return make_unexpected(closed_error());
  leveldb::WriteOptions wo;
  wo.sync = true;
  auto s = db_->Put(wo, slice(key), slice(value));
  if (!s.ok())
    return make_unexpected(io_error(key, s));
  return done{};
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
  std::vector<order_event> result;
  std::string prefix{event_prefix};
  prefix += out_trade_no;
  prefix += '/';
  std::unique_ptr<leveldb::Iterator> it{db_->NewIterator({})};
  for (it->Seek(event_key(out_trade_no, after_seq + 1));
       it->Valid() && result.size() < limit; it->Next()) {
    auto key = view(it->key());
    if (key.substr(0, prefix.size()) != prefix)
      break;
    auto event = decode_event(key, view(it->value()));
    if (!event)
      return make_unexpected(event.error());
    result.push_back(std::move(*event));
  }
  if (!it->status().ok())
    return make_unexpected(io_error(prefix, it->status()));
  return result;
}

expected<std::optional<std::string>, store_error>
order_store::find_notification(std::string_view notification_id) const {
  if (!db_)
    return make_unexpected(closed_error());
  auto key = notification_key(notification_id);
  std::string value;
  auto s = db_->Get(leveldb::ReadOptions{}, key, &value);
  if (s.IsNotFound())
    return std::optional<std::string>{};
  if (!s.ok())
    return make_unexpected(io_error(key, s));
  return std::optional<std::string>{std::move(value)};
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

expected<std::vector<orphan_event>, store_error>
order_store::orphan_events(std::string_view out_trade_no, std::string_view after_key,
                           size_t limit) const {
  if (!db_)
    return make_unexpected(closed_error());
  std::string prefix{orphan_event_prefix};
  if (!out_trade_no.empty()) {
    prefix += out_trade_no;
    prefix += '/';
  }
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
