#pragma once

// The state all copies of one `responder` share.

#include <atomic>
#include <cstdint>
#include <memory>

#include "net/http_server.hpp"

namespace paycoord::net::detail {

class session;

/// Why a response reaches the session.
enum class reply_origin {
  handler,
  /// Every responder copy was destroyed unanswered.
  dropped,
  /// The handler threw.
  exception,
};

/// The state all copies of one responder share. It refers to its session
/// weakly, so a held responder does not keep a dead connection's buffers.
class reply_slot {
public:
  reply_slot(std::weak_ptr<session> owner, std::uint64_t seq)
    : session_(std::move(owner)), seq_(seq) {
  }

  reply_slot(const reply_slot&) = delete;
  reply_slot& operator=(const reply_slot&) = delete;

  /// The last copy is gone: answer 500 unless some copy answered, so that the
  /// client does not wait for the handler timeout.
  ~reply_slot() {
    if (answered_.exchange(true))
      return;
    try {
      deliver(json_error(500, "INTERNAL", "internal error"), reply_origin::dropped);
    } catch (...) {
      // Out of memory while failing a request: the handler timeout answers.
    }
  }

  bool send(http_response response, reply_origin origin) {
    if (answered_.exchange(true))
      return false;
    deliver(std::move(response), origin);
    return true;
  }

  bool answered() const noexcept {
    return answered_.load();
  }

private:
  void deliver(http_response response, reply_origin origin);

  std::atomic<bool> answered_{false};
  const std::weak_ptr<session> session_;
  const std::uint64_t seq_;
};

} // namespace paycoord::net::detail
