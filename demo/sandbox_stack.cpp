#include "demo/sandbox_stack.hpp"

#include <csignal>
#include <fstream>
#include <thread>

#include "net/http_client.hpp"

namespace paycoord::demo {

namespace {

using json = nlohmann::json;

json read_json(const std::string& file) {
  std::ifstream in{file};
  return json::parse(in);
}

void write_json(const std::string& file, const json& value) {
  std::ofstream out{file};
  out << value.dump(2) << "\n";
}

/// Makes the key files named under `section` absolute against config/, so the
/// written config works from the run directory.
void absolute_key_paths(json& section, const std::string& config_dir,
                        std::initializer_list<const char*> keys) {
  for (auto key : keys) {
    auto it = section.find(key);
    if (it != section.end() && it->is_string() && !it->get<std::string>().empty()
        && it->get<std::string>().front() != '/')
      *it = config_dir + "/" + it->get<std::string>();
  }
}

std::string tail(const std::string& text, std::size_t max = 4000) {
  return text.size() > max ? text.substr(text.size() - max) : text;
}

} // namespace

sandbox_stack::sandbox_stack(stack_options opts) : opts_(std::move(opts)) {
}

sandbox_stack::~sandbox_stack() = default; // child_process kills what still runs

std::string sandbox_stack::endpoint(const char* listener) const {
  std::string name{listener};
  uint16_t port = name == "public"     ? public_port_
                  : name == "admin"    ? admin_port_
                  : name == "metrics"  ? metrics_port_
                  : name == "wechat"   ? wechat_port_
                  : name == "business" ? business_port_
                                       : control_port_;
  return "127.0.0.1:" + std::to_string(port);
}

std::string sandbox_stack::public_url(const std::string& path) const {
  return "http://" + endpoint("public") + path;
}

std::string sandbox_stack::control_url(const std::string& path) const {
  return "http://" + endpoint("control") + path;
}

std::string sandbox_stack::metrics_url(const std::string& path) const {
  return "http://" + endpoint("metrics") + path;
}

std::string sandbox_stack::admin_url(const std::string& path) const {
  return "http://" + endpoint("admin") + path;
}

std::string sandbox_stack::paycoord_config_file() const {
  return opts_.run_dir + "/paycoord.json";
}

std::string sandbox_stack::paysim_config_file() const {
  return opts_.run_dir + "/paysim.json";
}

std::string sandbox_stack::data_dir() const {
  return opts_.run_dir + "/data";
}

std::string sandbox_stack::paycoord_log(int start) const {
  return opts_.run_dir + "/paycoord-" + std::to_string(start) + ".log";
}

std::string sandbox_stack::paysim_log() const {
  return opts_.run_dir + "/paysim.log";
}

void sandbox_stack::write_configs() const {
  auto config_dir = opts_.source_dir + "/config";

  auto sim = read_json(config_dir + "/paysim.example.json");
  sim.merge_patch(opts_.paysim_patch);
  sim["listen"] = {{"wechat", endpoint("wechat")},
                   {"business", endpoint("business")},
                   {"control", endpoint("control")}};
  absolute_key_paths(sim["wechatpay"], config_dir,
                     {"merchant_public_key_file", "platform_private_key_file"});
  write_json(paysim_config_file(), sim);

  auto coord = read_json(config_dir + "/paycoord.example.json");
  coord.merge_patch(opts_.paycoord_patch);
  coord["data_dir"] = data_dir();
  coord["listen"] = {{"public", endpoint("public")},
                     {"admin", endpoint("admin")},
                     {"metrics", endpoint("metrics")}};
  auto& wechat = coord["wechatpay"];
  wechat["base_url"] = "http://" + endpoint("wechat");
  wechat["notify_url"] = public_url(wechat.value("notify_path", "/v1/wechatpay/notify"));
  absolute_key_paths(wechat, config_dir,
                     {"merchant_private_key_file", "platform_public_key_file",
                      "platform_certificates_dir"});
  auto business_path = sim["business"].value("path", "/orders/paid");
  coord["business"]["callback_url"] = "http://" + endpoint("business") + business_path;
  write_json(paycoord_config_file(), coord);
}

std::optional<std::string> sandbox_stack::start() {
  public_port_ = free_port();
  admin_port_ = free_port();
  metrics_port_ = free_port();
  wechat_port_ = free_port();
  business_port_ = free_port();
  control_port_ = free_port();
  try {
    write_configs();
  } catch (const std::exception& e) {
    return std::string{"cannot write the configs: "} + e.what();
  }
  paysim_ = std::make_unique<child_process>(
    opts_.bin_dir + "/paysim", std::vector<std::string>{"--config", paysim_config_file()},
    std::map<std::string, std::string>{}, paysim_log());
  if (auto failed = await_ready(*paysim_, control_url("/control/report?orders=false"),
                                paysim_log()))
    return "paysim: " + *failed;
  return start_paycoord();
}

std::optional<std::string> sandbox_stack::start_paycoord() {
  ++paycoord_starts_;
  auto log = paycoord_log(paycoord_starts_);
  paycoord_ = std::make_unique<child_process>(
    opts_.bin_dir + "/paycoord", std::vector<std::string>{"--config", paycoord_config_file()},
    std::map<std::string, std::string>{}, log);
  if (auto failed = await_ready(*paycoord_, metrics_url("/readyz"), log))
    return "paycoord: " + *failed;
  return std::nullopt;
}

std::optional<std::string> sandbox_stack::kill_and_restart_paycoord() {
  if (paycoord_) {
    paycoord_->signal(SIGKILL);
    paycoord_->wait(std::chrono::seconds{10});
  }
  return start_paycoord();
}

std::optional<int> sandbox_stack::stop() {
  std::optional<int> status;
  if (paycoord_) {
    paycoord_->signal(SIGTERM);
    status = paycoord_->wait(std::chrono::seconds{30});
  }
  if (paysim_) {
    paysim_->signal(SIGTERM);
    paysim_->wait(std::chrono::seconds{10});
  }
  return status;
}

std::optional<std::string> sandbox_stack::await_ready(child_process& child,
                                                      const std::string& url,
                                                      const std::string& log) const {
  net::http_client_options o;
  o.timeout = std::chrono::seconds{2};
  net::http_client client{o};
  auto deadline = std::chrono::steady_clock::now() + opts_.ready_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = client.send({"GET", url, {}, ""});
    if (r && r->status == 200)
      return std::nullopt;
    if (auto status = child.wait(std::chrono::milliseconds{0}))
      return "exited with status " + std::to_string(*status) + " (log " + log + "):\n"
             + tail(child.output());
    std::this_thread::sleep_for(std::chrono::milliseconds{25});
  }
  return "not ready after " + std::to_string(opts_.ready_timeout.count()) + " ms (log " + log
         + "):\n" + tail(child.output());
}

} // namespace paycoord::demo
