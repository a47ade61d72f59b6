#include "sim/sim_config.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

namespace paycoord::sim {

namespace {

constexpr std::size_t max_file_bytes = 1 << 20;
constexpr int64_t int_max = std::numeric_limits<int64_t>::max();

void read_listen(strict_object& top, sim_listen_config& out) {
  auto listen = top.object("listen");
  if (!listen)
    return;
  listen->text("wechat", out.wechat);
  listen->text("business", out.business);
  listen->text("control", out.control);
  listen->reject_unknown_keys();
}

void read_wechatpay(strict_object& top, sim_wechatpay_config& out) {
  auto w = top.object("wechatpay");
  if (!w)
    return top.fail("wechatpay", "is required");
  w->text("mchid", out.mchid, true);
  w->text("appid", out.appid, true);
  w->text("apiv3_key", out.apiv3_key, true);
  w->text("merchant_serial_no", out.merchant_serial_no);
  w->text("merchant_public_key_file", out.merchant_public_key_file, true);
  w->text("platform_private_key_file", out.platform_private_key_file, true);
  w->text("platform_public_key_id", out.platform_public_key_id, true);
  w->span("max_clock_skew", out.max_clock_skew);
  w->reject_unknown_keys();
}

void read_business(strict_object& top, sim_business_config& out) {
  auto b = top.object("business");
  if (!b)
    return top.fail("business", "is required");
  b->text("path", out.path);
  b->text("secret", out.secret, true);
  b->span("max_clock_skew", out.max_clock_skew);
  if (!out.path.starts_with('/'))
    b->fail("path", "must start with '/'");
  b->reject_unknown_keys();
}

void read_notify(strict_object& top, sim_notify_config& out) {
  auto n = top.object("notify");
  if (!n)
    return;
  n->integer("workers", out.workers, 1, 64);
  n->span("timeout", out.timeout);
  n->integer("max_pending", out.max_pending, 1, 10'000'000);
  if (out.timeout <= duration::zero())
    n->fail("timeout", "must be positive");
  n->reject_unknown_keys();
}

void read_top(strict_object& top, paysim_config& cfg) {
  read_listen(top, cfg.listen);
  read_wechatpay(top, cfg.wechatpay);
  read_business(top, cfg.business);
  read_notify(top, cfg.notify);
  top.number("time_factor", cfg.time_factor, 1e-6, 1e6);
  top.integer("seed", cfg.seed, 0, int_max);
  top.integer("max_orders", cfg.max_orders, 1, 100'000'000);
  top.integer("threads", cfg.threads, 1, 64);
  if (auto faults = top.object("faults"))
    read_faults(*faults, cfg.faults);
  top.reject_unknown_keys();
}

void resolve_against(const std::filesystem::path& dir, std::string& path) {
  if (!path.empty() && std::filesystem::path(path).is_relative())
    path = (dir / path).lexically_normal().string();
}

} // namespace

expected<paysim_config, config_error> load_paysim_config(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return make_unexpected(config_error{file, std::string("cannot open: ") + std::strerror(errno)});
  std::string text(max_file_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_file_bytes)
    return make_unexpected(config_error{file, "is larger than 1 MiB"});

  std::optional<config_error> error;
  auto document = parse_json_object(text, file, error);
  if (!document)
    return make_unexpected(std::move(*error));
  paysim_config cfg;
  strict_object top(*document, "", error);
  read_top(top, cfg);
  if (error)
    return make_unexpected(std::move(*error));
  for (auto [key, value] : {std::pair{"listen.wechat", &cfg.listen.wechat},
                            std::pair{"listen.business", &cfg.listen.business},
                            std::pair{"listen.control", &cfg.listen.control}})
    if (auto ok = parse_endpoint(*value, key); !ok)
      return make_unexpected(ok.error());

  std::error_code ec;
  auto dir = std::filesystem::absolute(file, ec).parent_path();
  resolve_against(dir, cfg.wechatpay.merchant_public_key_file);
  resolve_against(dir, cfg.wechatpay.platform_private_key_file);
  return cfg;
}

} // namespace paycoord::sim
