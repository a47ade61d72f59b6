#pragma once

// Internal to the config library: the one list of config keys. The loader,
// to_json and the environment names all derive from it, so a new key is
// added here (and in config.hpp, README.md and the example) and nowhere else.

#include "config/config.hpp"

#include <string_view>

namespace paycoord::config_detail {

/// How a key is treated beyond its type.
enum class field_kind {
  plain,
  secret,        // never printed: masked in to_json, left out of error messages
  file_relative, // a relative path from the config file resolves against its directory
};

/// Calls `visit(key_path, member, kind)` for every leaf key of `cfg` in
/// document order; `Config` is paycoord_config, const or not.
template <class Config, class Visitor>
void for_each_field(Config& cfg, Visitor&& visit) {
  using enum field_kind;
  visit("data_dir", cfg.data_dir, plain);
  visit("listen.public", cfg.listen.public_endpoint, plain);
  visit("listen.admin", cfg.listen.admin, plain);
  visit("listen.metrics", cfg.listen.metrics, plain);
  visit("listen.notify", cfg.listen.notify, plain);
  auto& w = cfg.wechatpay;
  visit("wechatpay.base_url", w.base_url, plain);
  visit("wechatpay.mchid", w.mchid, plain);
  visit("wechatpay.appid", w.appid, plain);
  visit("wechatpay.apiv3_key", w.apiv3_key, secret);
  visit("wechatpay.merchant_serial_no", w.merchant_serial_no, plain);
  visit("wechatpay.merchant_private_key_file", w.merchant_private_key_file,
        file_relative);
  visit("wechatpay.platform_public_key_id", w.platform_public_key_id, plain);
  visit("wechatpay.platform_public_key_file", w.platform_public_key_file,
        file_relative);
  visit("wechatpay.platform_certificates_dir", w.platform_certificates_dir,
        file_relative);
  visit("wechatpay.notify_url", w.notify_url, plain);
  visit("wechatpay.notify_path", w.notify_path, plain);
  visit("wechatpay.max_clock_skew", w.max_clock_skew, plain);
  visit("wechatpay.rate_limit_qps", w.rate_limit_qps, plain);
  visit("wechatpay.timeout", w.timeout, plain);
  visit("wechatpay.concurrency", w.concurrency, plain);
  auto& b = cfg.business;
  visit("business.callback_url", b.callback_url, plain);
  visit("business.secret", b.secret, secret);
  visit("business.timeout", b.timeout, plain);
  visit("business.concurrency", b.concurrency, plain);
  auto& s = cfg.schedule;
  visit("schedule.verify", s.verify, plain);
  visit("schedule.verify_every", s.verify_every, plain);
  visit("schedule.userpaying_retry", s.userpaying_retry, plain);
  visit("schedule.default_expiry", s.default_expiry, plain);
  visit("schedule.forward_backoff_initial", s.forward_backoff_initial, plain);
  visit("schedule.forward_backoff_max", s.forward_backoff_max, plain);
  visit("schedule.stuck_after", s.stuck_after, plain);
  visit("schedule.close_not_before", s.close_not_before, plain);
  visit("schedule.passivate_after", s.passivate_after, plain);
  visit("schedule.refund_verify", s.refund_verify, plain);
  visit("schedule.refund_verify_every", s.refund_verify_every, plain);
  visit("admin.token", cfg.admin.token, secret);
  visit("api.token", cfg.api.token, secret);
}

} // namespace paycoord::config_detail
