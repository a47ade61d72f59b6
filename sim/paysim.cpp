#include "sim/paysim.hpp"

#include <spdlog/spdlog.h>

#include "config/config.hpp"
#include "net/wechatpay/credentials.hpp"
#include "net/wechatpay/keys.hpp"

namespace paycoord::sim {

namespace {

/// Bodies paysim accepts: a prepay or a callback is well under 4 KiB.
constexpr std::size_t api_body_limit = 64 * 1024;
constexpr std::size_t control_body_limit = 16 * 1024;

expected<std::unique_ptr<net::http_server>, std::string>
listen(boost::asio::io_context& io, std::string name, const std::string& address,
       std::string_view key, net::router routes, std::size_t body_limit) {
  auto ep = parse_endpoint(address, key);
  if (!ep)
    return make_unexpected(ep.error().message());
  net::http_server_options options;
  options.name = std::move(name);
  options.address = ep->host;
  options.port = ep->port;
  options.default_body_limit = body_limit;
  auto server = net::http_server::start(io, options, std::move(routes));
  if (!server)
    return make_unexpected(std::string{key} + ": " + server.error());
  return std::move(*server);
}

} // namespace

expected<std::unique_ptr<paysim>, std::string> paysim::start(boost::asio::io_context& io,
                                                             const paysim_config& cfg) {
  const auto& w = cfg.wechatpay;
  if (auto ok = wechatpay::validate_apiv3_key(w.apiv3_key); !ok)
    return make_unexpected(ok.error().message());
  auto merchant_key = wechatpay::public_key::from_pem_file(w.merchant_public_key_file);
  if (!merchant_key)
    return make_unexpected("wechatpay.merchant_public_key_file: "
                           + merchant_key.error().message());
  auto platform_key = wechatpay::private_key::from_pem_file(w.platform_private_key_file);
  if (!platform_key)
    return make_unexpected("wechatpay.platform_private_key_file: "
                           + platform_key.error().message());
  if (*merchant_key == wechatpay::public_key_of(*platform_key))
    return make_unexpected(std::string{"wechatpay.merchant_public_key_file: is the public half "
                                       "of platform_private_key_file (the two are swapped?)"});

  std::unique_ptr<paysim> sim{new paysim};
  sim->state_ = std::make_unique<sim_state>(sim_state::identity{w.mchid, w.appid}, cfg.faults,
                                            static_cast<uint64_t>(cfg.seed),
                                            static_cast<std::size_t>(cfg.max_orders));
  sim->signer_ = std::make_unique<sandbox_signer>(*platform_key, w.platform_public_key_id);
  sim->notifier_ = std::make_unique<notifier>(
      notifier::options{static_cast<std::size_t>(cfg.notify.workers), cfg.notify.timeout,
                        cfg.time_factor, static_cast<std::size_t>(cfg.notify.max_pending),
                        w.apiv3_key},
      *sim->state_, *sim->signer_);
  sim->wechat_ = std::make_unique<wechat_sandbox>(
      wechat_sandbox::options{w.mchid, w.merchant_serial_no, w.max_clock_skew}, *merchant_key,
      *sim->signer_, *sim->state_, *sim->notifier_, io);
  sim->business_ = std::make_unique<business_simulator>(
      business_simulator::options{cfg.business.path, cfg.business.secret,
                                  cfg.business.max_clock_skew},
      *sim->state_, io);
  sim->control_ = std::make_unique<control_api>(*sim->state_, *sim->notifier_);

  auto wechat = listen(io, "wechat", cfg.listen.wechat, "listen.wechat", sim->wechat_->routes(),
                       api_body_limit);
  if (!wechat)
    return make_unexpected(wechat.error());
  sim->wechat_server_ = std::move(*wechat);
  auto business = listen(io, "business", cfg.listen.business, "listen.business",
                         sim->business_->routes(), api_body_limit);
  if (!business)
    return make_unexpected(business.error());
  sim->business_server_ = std::move(*business);
  auto control = listen(io, "control", cfg.listen.control, "listen.control",
                        sim->control_->routes(), control_body_limit);
  if (!control)
    return make_unexpected(control.error());
  sim->control_server_ = std::move(*control);

  spdlog::info("paysim event=started wechat_port={} business_port={} control_port={} "
               "time_factor={} seed={}",
               sim->wechat_port(), sim->business_port(), sim->control_port(), cfg.time_factor,
               cfg.seed);
  return sim;
}

paysim::~paysim() {
  stop();
}

void paysim::stop() {
  if (wechat_ != nullptr)
    wechat_->stop();
  for (auto* server : {wechat_server_.get(), business_server_.get(), control_server_.get()})
    if (server != nullptr)
      server->stop();
}

bool paysim::wait_idle(duration timeout) {
  bool idle = true;
  for (auto* server : {wechat_server_.get(), business_server_.get(), control_server_.get()})
    idle = (server == nullptr || server->wait_idle(timeout)) && idle;
  return idle;
}

std::uint16_t paysim::wechat_port() const {
  return wechat_server_->port();
}

std::uint16_t paysim::business_port() const {
  return business_server_->port();
}

std::uint16_t paysim::control_port() const {
  return control_server_->port();
}

} // namespace paycoord::sim
