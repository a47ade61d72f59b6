#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "common/expected.hpp"
#include "common/time.hpp"
#include "net/http_server.hpp"
#include "sim/business_simulator.hpp"
#include "sim/control_api.hpp"
#include "sim/notifier.hpp"
#include "sim/sandbox_signer.hpp"
#include "sim/sim_config.hpp"
#include "sim/sim_state.hpp"
#include "sim/wechat_sandbox.hpp"

namespace paycoord::sim {

/// The whole simulator: the WeChat Pay sandbox, the business server and the
/// control API on their three listeners, the notification workers, and the
/// state they share. Runs on an io_context the caller owns and runs.
class paysim {
public:
  /// Loads and checks the keys (errors name the config key), then binds the
  /// three listeners on `io` and starts the notification workers. Returns
  /// the reason when anything is unusable.
  static expected<std::unique_ptr<paysim>, std::string> start(boost::asio::io_context& io,
                                                               const paysim_config& cfg);

  /// Stops the listeners and the notification workers. Destroy it after the
  /// io_context stopped running (its timers refer to this object), and
  /// before the io_context itself.
  ~paysim();

  paysim(const paysim&) = delete;
  paysim& operator=(const paysim&) = delete;

  /// Stops accepting on all three listeners (graceful; returns at once) and
  /// cancels the refund deadlines still pending (see `wechat_sandbox::stop`).
  void stop();

  /// Waits until the listeners have no open connection, at most `timeout`.
  bool wait_idle(duration timeout);

  std::uint16_t wechat_port() const;
  std::uint16_t business_port() const;
  std::uint16_t control_port() const;

private:
  paysim() = default;

  // Declared in dependency order: destroyed in reverse, servers first.
  std::unique_ptr<sim_state> state_;
  std::unique_ptr<sandbox_signer> signer_;
  std::unique_ptr<notifier> notifier_;
  std::unique_ptr<wechat_sandbox> wechat_;
  std::unique_ptr<business_simulator> business_;
  std::unique_ptr<control_api> control_;
  std::unique_ptr<net::http_server> wechat_server_;
  std::unique_ptr<net::http_server> business_server_;
  std::unique_ptr<net::http_server> control_server_;
};

} // namespace paycoord::sim
