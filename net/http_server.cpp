#include "net/http_server.hpp"

// The server's public face: responses, the request context, the responder
// and the `http_server` handle. The connection machinery is in net/http/: the
// listener (accept and caps), the session (one connection), the reply slot
// (what a responder's copies share) and the state they all share.

#include <limits>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "net/http/connection_ops.hpp"
#include "net/http/listener.hpp"
#include "net/http/reply_slot.hpp"
#include "net/http/server_state.hpp"
#include "net/http/session.hpp"

namespace paycoord::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// -- responses ------------------------------------------------------------------------

http_response json_response(unsigned status, const nlohmann::json& body, unsigned version,
                            bool keep_alive) {
  http_response response{static_cast<http::status>(status), version};
  response.set(http::field::server, detail::server_name);
  response.set(http::field::content_type, "application/json");
  response.keep_alive(keep_alive);
  response.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.prepare_payload();
  return response;
}

http_response json_error(unsigned status, std::string_view code, std::string_view message,
                         unsigned version, bool keep_alive) {
  return json_response(status, {{"code", code}, {"message", message}}, version, keep_alive);
}

// -- request context ----------------------------------------------------------------------

std::string_view request_context::path_param(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string_view{} : std::string_view{it->second};
}

std::optional<std::string_view> request_context::query_param(std::string_view name) const {
  auto it = query.find(name);
  if (it == query.end())
    return std::nullopt;
  return std::string_view{it->second};
}

// -- responder ------------------------------------------------------------------------------

responder::responder(std::shared_ptr<detail::reply_slot> slot) : slot_(std::move(slot)) {
}

bool responder::send(http_response response) const {
  return slot_ && slot_->send(std::move(response), detail::reply_origin::handler);
}

bool responder::send_json(unsigned status, const nlohmann::json& body) const {
  return send(json_response(status, body));
}

bool responder::send_error(unsigned status, std::string_view code,
                           std::string_view message) const {
  return send(json_error(status, code, message));
}

bool responder::answered() const noexcept {
  return slot_ && slot_->answered();
}

// -- http_server -----------------------------------------------------------------------------

namespace {

std::optional<std::string> check_options(const http_server_options& options) {
  if (options.header_limit == 0 || options.header_limit > std::numeric_limits<std::uint32_t>::max())
    return "header_limit must be between 1 and 2^32-1 bytes";
  if (options.pipeline_limit == 0)
    return "pipeline_limit must be at least 1";
  if (options.max_connections == 0)
    return "max_connections must be at least 1";
  for (auto timeout : {options.read_timeout, options.idle_timeout, options.write_timeout,
                       options.handler_timeout})
    if (timeout <= duration::zero())
      return "timeouts must be positive";
  return std::nullopt;
}

} // namespace

expected<std::unique_ptr<http_server>, std::string>
http_server::start(asio::io_context& io, http_server_options options, router routes) {
  auto name = options.name;
  if (auto problem = check_options(options))
    return make_unexpected("listener " + name + ": " + *problem);
  beast::error_code ec;
  auto address = asio::ip::make_address(options.address, ec);
  if (ec)
    return make_unexpected("listener " + name + ": bad address '" + options.address + "'");
  tcp::endpoint endpoint{address, options.port};
  auto state = std::make_shared<detail::server_state>(std::move(options), std::move(routes));
  auto acceptor = std::make_shared<detail::listener>(io, state);
  if (auto problem = acceptor->open(endpoint))
    return make_unexpected("listener " + name + ": " + *problem);
  acceptor->run();
  auto port = acceptor->port();
  spdlog::info("http event=listen listener={} address={} port={}", name,
               endpoint.address().to_string(), port);
  return std::unique_ptr<http_server>(new http_server(std::move(state), std::move(acceptor), port));
}

http_server::http_server(std::shared_ptr<detail::server_state> state,
                         std::shared_ptr<detail::listener> listener, std::uint16_t port)
  : state_(std::move(state)), listener_(std::move(listener)), port_(port) {
}

http_server::~http_server() {
  stop();
}

std::uint16_t http_server::port() const noexcept {
  return port_;
}

void http_server::stop() {
  if (state_->stopping.exchange(true))
    return;
  listener_->close();
  auto sessions = state_->live_sessions();
  spdlog::info("http event=stop listener={} open_connections={}", state_->options.name,
               sessions.size());
  for (auto& s : sessions)
    asio::post(s->executor(), [s] { s->on_stop(); });
}

bool http_server::wait_idle(duration timeout) {
  return state_->wait_idle(timeout);
}

const http_server_counters& http_server::counters() const noexcept {
  return state_->counters;
}

} // namespace paycoord::net