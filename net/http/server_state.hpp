#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "net/http_server.hpp"

namespace paycoord::net::detail {

class session;

/// What the listener, the sessions and the `http_server` handle share; sessions
/// keep it alive after the handle is gone.
struct server_state {
  server_state(http_server_options options_in, router routes_in)
    : options(std::move(options_in)), routes(std::move(routes_in)) {
  }

  const http_server_options options;
  const router routes;
  http_server_counters counters;
  std::atomic<bool> stopping{false};

  /// Registers a new session from `address`; returns its id for
  /// `remove_session`.
  std::uint64_t add_session(std::weak_ptr<session> s, const boost::asio::ip::address& address) {
    std::lock_guard<std::mutex> guard{mutex};
    auto id = next_session_id++;
    sessions.emplace(id, entry{std::move(s), address});
    ++per_address[address];
    counters.connections_open.fetch_add(1);
    counters.connections_total.fetch_add(1);
    return id;
  }

  void remove_session(std::uint64_t id) {
    std::lock_guard<std::mutex> guard{mutex};
    if (auto i = sessions.find(id); i != sessions.end()) {
      if (auto j = per_address.find(i->second.address); j != per_address.end() && --j->second == 0)
        per_address.erase(j);
      sessions.erase(i);
    }
    counters.connections_open.fetch_sub(1);
    idle.notify_all();
  }

  /// Open connections from `address`.
  std::size_t connections_from(const boost::asio::ip::address& address) {
    std::lock_guard<std::mutex> guard{mutex};
    auto i = per_address.find(address);
    return i == per_address.end() ? 0 : i->second;
  }

  std::vector<std::shared_ptr<session>> live_sessions() {
    std::lock_guard<std::mutex> guard{mutex};
    std::vector<std::shared_ptr<session>> result;
    for (auto& [id, e] : sessions)
      if (auto s = e.handle.lock())
        result.push_back(std::move(s));
    return result;
  }

  bool wait_idle(duration timeout) {
    std::unique_lock<std::mutex> lock{mutex};
    return idle.wait_for(lock, timeout, [this] { return sessions.empty(); });
  }

  // The session registry: stop() reaches open sessions through it and
  // wait_idle() waits for it to empty. Guarded by `mutex`.
  std::mutex mutex;
  std::condition_variable idle;
  struct entry {
    std::weak_ptr<session> handle;
    boost::asio::ip::address address;
  };
  std::unordered_map<std::uint64_t, entry> sessions;
  /// Open sessions per client address (erased at 0, so it stays small).
  std::map<boost::asio::ip::address, std::size_t> per_address;
  std::uint64_t next_session_id = 0;
};

} // namespace paycoord::net::detail
