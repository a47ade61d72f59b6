// order_store's upkeep: bringing an older store up to date at open (the
// schema migration, a recount) and the audit of records against the timer
// index. Split from order_store.cpp along that seam.

#include "storage/order_store.hpp"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include "storage/store_keys.hpp"

namespace paycoord {

using namespace store_detail;

// -- schema ------------------------------------------------------------------

expected<done, store_error> order_store::mark_clean() {
  leveldb::WriteBatch batch;
  batch.Put(slice(clean_key), "1");
  return write_batch(batch);
}

expected<done, store_error> order_store::load_schema() {
  std::string value;
  // Was the last stop clean? Forget it at once (synced): a crash from now
  // on must read as one at the next open.
  auto s = db_->Get(leveldb::ReadOptions{}, slice(clean_key), &value);
  if (!s.ok() && !s.IsNotFound())
    return make_unexpected(io_error(clean_key, s));
  opened_clean_ = s.ok();
  if (opened_clean_) {
    leveldb::WriteBatch forget;
    forget.Delete(slice(clean_key));
    if (auto ok = write_batch(forget); !ok)
      return ok;
  }
  s = db_->Get(leveldb::ReadOptions{}, slice(schema_key), &value);
  if (s.IsNotFound()) {
    opened_clean_ = true; // a new store: nothing to audit
    // A new store: an empty index and zero counts are the truth.
    leveldb::WriteBatch batch;
    batch.Put(slice(counts_key), encode(counts_));
    batch.Put(slice(schema_key), std::to_string(schema_version));
    leveldb::WriteOptions wo;
    wo.sync = true;
    if (s = db_->Write(wo, &batch); !s.ok())
      return make_unexpected(io_error(schema_key, s));
    return done{};
  }
  if (!s.ok())
    return make_unexpected(io_error(schema_key, s));
  if (value == "1") {
    migration_.from_schema = 1;
    opened_clean_ = true; // the migration read every record, as an audit would
    return rebuild(true);
  }
  if (value != std::to_string(schema_version))
    return make_unexpected(
      store_error{store_errc::unknown_version, std::string{schema_key},
                  "store schema '" + value + "', this build reads 1 and "
                    + std::to_string(schema_version)});
  s = db_->Get(leveldb::ReadOptions{}, slice(counts_key), &value);
  if (!s.ok() && !s.IsNotFound())
    return make_unexpected(io_error(counts_key, s));
  if (s.ok())
    if (auto counts = decode_counts(counts_key, value)) {
      counts_ = *counts;
      return done{};
    }
  // Only a damaged disk loses the counts: count again (the index is kept).
  migration_.recounted = true;
  return rebuild(false);
}

expected<done, store_error> order_store::rebuild(bool index) {
  // Unsynced batches of a few thousand records, then one synced batch with
  // the counts and the schema: until that lands the store still reads as
  // the old schema (or with no counts), and the next open starts again. The
  // index entries written by a crashed run are the same ones again.
  constexpr size_t batch_records = 4096;
  order_counts counts;
  leveldb::WriteBatch batch;
  size_t in_batch = 0;
  leveldb::Status failed;
  leveldb::WriteOptions unsynced;
  for_each_order(
    [&](const order_record& x) {
      ++migration_.orders;
      auto facts = facts_of(x);
      counts.moved(std::nullopt, facts);
      if (!index || !facts.has_timer())
        return;
      batch.Put(timer_key(facts.timer_due_ms, x.out_trade_no), leveldb::Slice{});
      ++migration_.timers;
      if (++in_batch == batch_records && failed.ok()) {
        failed = db_->Write(unsynced, &batch);
        batch.Clear();
        in_batch = 0;
      }
    },
    [&](const store_error& err) {
      ++migration_.unreadable;
      if (err.code != store_errc::corrupt && err.code != store_errc::unknown_version
          && failed.ok())
        failed = leveldb::Status::IOError(err.to_string());
    });
  if (!failed.ok())
    return make_unexpected(io_error(order_prefix, failed));
  batch.Put(slice(counts_key), encode(counts));
  batch.Put(slice(schema_key), std::to_string(schema_version));
  leveldb::WriteOptions wo;
  wo.sync = true;
  if (auto s = db_->Write(wo, &batch); !s.ok())
    return make_unexpected(io_error(schema_key, s));
  counts_ = counts;
  return done{};
}

// -- audit -------------------------------------------------------------------

namespace {

/// Walks up to `limit` keys under `prefix` after `prefix + after`
/// (exclusive), calling `f(key, value)`; a false or an error from `f` stops
/// it. Returns the cursor to continue from (empty at the end).
template <class F>
expected<std::string, store_error> walk(leveldb::DB& db, std::string_view prefix,
                                        std::string_view after, size_t limit, F f) {
  std::unique_ptr<leveldb::Iterator> it{db.NewIterator(scan_options())};
  std::string start{prefix};
  start += after;
  it->Seek(start);
  if (!after.empty() && it->Valid() && view(it->key()) == start)
    it->Next();
  size_t examined = 0;
  std::string last;
  for (; it->Valid(); it->Next()) {
    auto key = view(it->key());
    if (key.substr(0, prefix.size()) != prefix)
      return std::string{};
    if (examined == limit)
      return last;
    ++examined;
    last = std::string{key.substr(prefix.size())};
    if (auto ok = f(key, view(it->value())); !ok)
      return make_unexpected(ok.error());
  }
  if (!it->status().ok())
    return make_unexpected(io_error(start, it->status()));
  return std::string{};
}

} // namespace

expected<audit_step, store_error>
order_store::finish_audit(audit_step step, expected<std::string, store_error> next,
                          leveldb::WriteBatch& repairs) {
  if (!next)
    return make_unexpected(next.error());
  step.next = std::move(*next);
  if (!step.repaired.empty())
    if (auto ok = write_batch(repairs); !ok)
      return make_unexpected(ok.error());
  return step;
}

expected<audit_step, store_error> order_store::audit_records(std::string_view after,
                                                             size_t limit) {
  if (!db_)
    return make_unexpected(closed_error());
  audit_step step;
  leveldb::WriteBatch repairs;
  std::string value;
  auto next = walk(*db_, order_prefix, after, limit,
                   [&](std::string_view key, std::string_view bytes) -> expected<done, store_error> {
                     ++step.examined;
                     auto record = decode_order(key, bytes);
                     if (!record) {
                       ++step.unreadable;
                       return done{};
                     }
                     auto facts = facts_of(*record);
                     if (!facts.has_timer())
                       return done{};
                     auto tkey = timer_key(facts.timer_due_ms, record->out_trade_no);
                     auto s = db_->Get(scan_options(), tkey, &value);
                     if (s.IsNotFound()) {
                       repairs.Put(tkey, leveldb::Slice{});
                       step.repaired.push_back("index entry missing: " + tkey);
                     } else if (!s.ok()) {
                       return make_unexpected(io_error(tkey, s));
                     }
                     return done{};
                   });
  return finish_audit(std::move(step), std::move(next), repairs);
}

expected<audit_step, store_error> order_store::audit_index(std::string_view after,
                                                           size_t limit) {
  if (!db_)
    return make_unexpected(closed_error());
  audit_step step;
  leveldb::WriteBatch repairs;
  std::string value;
  auto next = walk(*db_, timer_prefix, after, limit,
                   [&](std::string_view key, std::string_view) -> expected<done, store_error> {
                     ++step.examined;
                     auto rest = key.substr(timer_prefix.size());
                     std::string why;
                     if (rest.size() <= due_digits + 1 || rest[due_digits] != '/') {
                       why = "not an index key";
                     } else {
                       auto id = rest.substr(due_digits + 1);
                       auto okey = order_key(id);
                       auto s = db_->Get(scan_options(), okey, &value);
                       if (!s.ok() && !s.IsNotFound())
                         return make_unexpected(io_error(okey, s));
                       if (s.IsNotFound()) {
                         why = "no such order";
                       } else if (auto record = decode_order(okey, value)) {
                         auto facts = facts_of(*record);
                         if (!facts.has_timer())
                           why = "the order needs no timer";
                         else if (timer_key(facts.timer_due_ms, id) != key)
                           why = "the order is due at another time";
                       }
                       // An unreadable record keeps its entry: the first
                       // pass counted it, and a person may yet repair it.
                     }
                     if (!why.empty()) {
                       repairs.Delete(slice(key));
                       step.repaired.push_back("index entry " + std::string{key} + ": " + why);
                     }
                     return done{};
                   });
  return finish_audit(std::move(step), std::move(next), repairs);
}

} // namespace paycoord
