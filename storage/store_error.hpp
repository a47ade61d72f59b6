#pragma once

#include <string>

namespace paycoord {

/// Why a storage operation failed.
enum class store_errc : uint8_t {
  io,              ///< LevelDB reported an I/O or internal error
  corrupt,         ///< bytes under a key do not decode
  unknown_version, ///< a record written by a newer build
  not_found,       ///< the key does not exist (where existence is required)
  closed,          ///< the store is shutting down
};

const char* to_string(store_errc x);

/// An error value naming the key it concerns (empty when none).
struct store_error {
  store_errc code = store_errc::io;
  std::string key;
  std::string message;

  /// "corrupt record at o/A1: ..." for logs and API errors.
  std::string to_string() const;
};

} // namespace paycoord
