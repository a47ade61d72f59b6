#pragma once

#include <cstddef>
#include <cstdint>
#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/token_bucket.hpp"

namespace paycoord {

// -- configuration -------------------------------------------------------------

/// What a pool of blocking workers needs to know about its protocol. Both
/// protocol pieces are message handlers over the pool's requests, e.g.
/// `(query_atom, std::string)`.
struct blocking_pool_config {
  /// For logs: "wechat", "business".
  std::string name = "pool";
  /// Worker threads: the most requests in progress at once.
  size_t workers = 4;
  /// Requests waiting for a worker (or a token); one more is refused.
  size_t queue_limit = 10'000;
  /// Requests started per second on average (a token bucket with a burst of
  /// the same size); 0 starts them as fast as workers free up.
  int64_t rate_limit_qps = 0;
  /// Steady nanoseconds for the token bucket; empty means steady_clock.
  token_bucket::clock now_ns = {};
  /// Called once per worker, on the dispatcher before the worker starts: the
  /// handler that worker runs every request with, on its own thread. It may
  /// block (outbound HTTP) and owns what it blocks on (its HTTP client). An
  /// exception kills the worker; its request is then refused.
  std::function<caf::message_handler()> make_executor;
  /// The answers for requests the pool will not run (queue full, worker died,
  /// pool shutting down): for each request, a value of its result type that
  /// says "retry later" with `reason` as its error. A message that no
  /// handler matches is not one of the pool's requests. Pure: the pool also
  /// calls it just to tell whether a message is a request.
  std::function<caf::message_handler(const std::string& reason)> refusals;
  /// Called once for every request the pool really refuses (for metrics);
  /// optional.
  std::function<void(const caf::message& request)> on_refused;
  /// Requests for which somebody is waiting right now (a customer's prepay):
  /// they wait in a queue of their own, which is served first, so a backlog
  /// of background work never delays them. Empty: none are.
  std::function<bool(const caf::message& request)> is_urgent;
};

// -- the dispatcher --------------------------------------------------------------

struct blocking_pool_state {
  static inline const char* name = "blocking_pool";

  /// A request with the promise to its requester.
  struct job {
    uint64_t id = 0;
    caf::message request;
    caf::response_promise promise;
  };

  struct worker {
    caf::actor handle;
    std::optional<job> in_flight;
  };

  blocking_pool_config config;
  std::optional<token_bucket> bucket;
  /// Waiting for a worker or a token, oldest first; `urgent` is served
  /// before `queue`. Each holds at most `queue_limit`.
  std::deque<job> urgent;
  std::deque<job> queue;
  /// Every live worker by address, with the request it is running.
  std::unordered_map<caf::actor_addr, worker> workers;
  /// Live workers with nothing in flight.
  std::vector<caf::actor> idle;
  /// A `tick` is on its way to ourselves (at most one at a time).
  bool tick_pending = false;
  uint64_t next_job_id = 0;
  /// Requests refused for a full queue since the last log line about it
  /// (one line a second at most, whatever the flood).
  uint64_t overloaded_since_log = 0;
  std::chrono::steady_clock::time_point overloaded_logged_at{};
};

/// The generic pool behind the `wechat` and `business` client pools: blocking
/// work on `detached` workers (one thread each), fed by this dispatcher that
/// runs on the cooperative scheduler and never blocks.
///
/// Any message that `refusals` matches is a request: it is queued with a
/// response promise, started on an idle worker when the token bucket allows,
/// and the worker's answer is delivered to the original requester. When the
/// queue is full the request is answered at once with its refusal
/// ("overloaded"). If a worker dies, its request is answered with a refusal
/// and a replacement is spawned. Other messages are logged and answered with
/// `sec::unexpected_message`. Internally, `(tick_atom)` comes from itself
/// when the next token is due (one pending at a time).
///
/// An exit message ends the pool: queued and running requests are answered
/// with a refusal ("shutting down") and every worker is sent an exit (a
/// worker also quits when it sees the dispatcher down), so that
/// `actor_system` shutdown does not wait on idle worker threads; a worker in
/// the middle of a call finishes it first (bounded by its HTTP timeout).
caf::behavior blocking_pool(caf::stateful_actor<blocking_pool_state>* self,
                            blocking_pool_config config);

/// Spawns a pool dispatcher (and its workers).
caf::actor spawn_blocking_pool(caf::actor_system& system,
                               blocking_pool_config config);

} // namespace paycoord
