#pragma once

// What order_store.cpp and order_store_upkeep.cpp share: the key schema and
// the conversions at the LevelDB boundary. Private to storage/.

#include <string>
#include <string_view>

#include <leveldb/options.h>
#include <leveldb/slice.h>
#include <leveldb/status.h>

#include "storage/store_error.hpp"

namespace paycoord::store_detail {

inline constexpr std::string_view order_prefix = "o/";
inline constexpr std::string_view event_prefix = "e/";
inline constexpr std::string_view notification_prefix = "n/";
inline constexpr std::string_view orphan_event_prefix = "u/";
inline constexpr std::string_view timer_prefix = "t/";
inline constexpr std::string_view refund_prefix = "r/";
inline constexpr std::string_view refund_owner_prefix = "f/";
inline constexpr std::string_view schema_key = "m/schema";
inline constexpr std::string_view counts_key = "m/counts";
/// Present from a clean stop to the next open (which removes it).
inline constexpr std::string_view clean_key = "m/clean";

/// Reads of a scan that touches everything once: they must not push what
/// the orders use out of the block cache.
inline leveldb::ReadOptions scan_options() {
  leveldb::ReadOptions o;
  o.fill_cache = false;
  return o;
}
/// Digits of a due time in a timer key (zero-padded: byte order = due order).
inline constexpr size_t due_digits = 20;

inline store_error closed_error() {
  return store_error{store_errc::closed, "", "store is closed (a reopen failed)"};
}

inline store_error io_error(std::string_view key, const leveldb::Status& s) {
  return store_error{store_errc::io, std::string{key}, s.ToString()};
}

inline leveldb::Slice slice(std::string_view x) {
  return leveldb::Slice{x.data(), x.size()};
}

inline std::string_view view(const leveldb::Slice& x) {
  return std::string_view{x.data(), x.size()};
}

inline store_error refused_error() {
  return store_error{store_errc::io, "",
                     "an earlier write failed; writes wait until the store reopens"};
}

} // namespace paycoord::store_detail
