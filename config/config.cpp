#include "config/config.hpp"

#include "config/config_fields.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <optional>
#include <sys/stat.h>

namespace paycoord {

namespace {

using problem = std::optional<config_error>;

config_error error_at(std::string_view key, std::string reason) {
  return config_error{std::string(key), std::move(reason)};
}

std::string json_quoted(std::string_view text) {
  return nlohmann::json(std::string(text))
    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool all_of(std::string_view text, int (*pred)(int)) {
  return std::all_of(text.begin(), text.end(),
                     [pred](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
}

// -- host and port -----------------------------------------------------------

struct authority {
  std::string_view host; // brackets removed
  std::optional<std::string_view> port;
};

// Splits `host[:port]` or `[v6][:port]`; nullopt when malformed.
std::optional<authority> split_authority(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    authority result{text.substr(1, close - 1), std::nullopt};
    if (result.host.find(':') == std::string_view::npos
        || !std::all_of(result.host.begin(), result.host.end(), [](char c) {
             return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
           }))
      return std::nullopt;
    auto rest = text.substr(close + 1);
    if (rest.empty())
      return result;
    if (rest.front() != ':')
      return std::nullopt;
    result.port = rest.substr(1);
    return result;
  }
  authority result{text, std::nullopt};
  if (auto colon = text.find(':'); colon != std::string_view::npos) {
    result.host = text.substr(0, colon);
    result.port = text.substr(colon + 1);
  }
  // A name or an IPv4 address; a second ':' means an IPv6 address without brackets.
  if (result.host.empty()
      || !std::all_of(result.host.begin(), result.host.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'
                  || c == '_';
         }))
    return std::nullopt;
  return result;
}

std::optional<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  if (text.empty() || text.size() > 5 || !all_of(text, ::isdigit))
    return std::nullopt;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(value);
}

// -- checks, each naming its key -----------------------------------------------

problem check_required(std::string_view key, const std::string& value) {
  if (!value.empty())
    return std::nullopt;
  return error_at(key, "missing (required; set it in the config file or as "
                         + environment_name(key) + ")");
}

problem check_http_url(std::string_view key, const std::string& url) {
  auto bad = [&](std::string why) {
    return error_at(key, json_quoted(url) + " is not an http(s) URL: " + std::move(why));
  };
  std::string_view rest = url;
  if (rest.starts_with("https://"))
    rest.remove_prefix(8);
  else if (rest.starts_with("http://"))
    rest.remove_prefix(7);
  else
    return bad("it must start with http:// or https://");
  if (std::any_of(url.begin(), url.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c));
      }))
    return bad("it contains whitespace");
  auto parts = split_authority(rest.substr(0, rest.find_first_of("/?#")));
  if (!parts)
    return bad("the host is missing or malformed");
  if (parts->port) {
    auto port = parse_port(*parts->port);
    if (!port || *port == 0)
      return bad("the port must be 1-65535");
  }
  return std::nullopt;
}

problem check_endpoint(std::string_view key, const std::string& text) {
  if (auto parsed = parse_endpoint(text, key); !parsed)
    return parsed.error();
  return std::nullopt;
}

problem check_positive(std::string_view key, duration d) {
  if (d > duration::zero())
    return std::nullopt;
  return error_at(key, "must be greater than 0, got " + json_quoted(format_duration(d)));
}

problem check_range(std::string_view key, int value, int low, int high) {
  if (value >= low && value <= high)
    return std::nullopt;
  return error_at(key, "must be between " + std::to_string(low) + " and "
                         + std::to_string(high) + ", got " + std::to_string(value));
}

problem check_wechatpay(const wechatpay_config& w) {
  if (auto e = check_http_url("wechatpay.base_url", w.base_url))
    return e;
  if (auto e = check_required("wechatpay.mchid", w.mchid))
    return e;
  if (!all_of(w.mchid, ::isdigit))
    return error_at("wechatpay.mchid", json_quoted(w.mchid) + " must be digits only (e.g. 1900000001)");
  if (auto e = check_required("wechatpay.appid", w.appid))
    return e;
  if (auto e = check_required("wechatpay.apiv3_key", w.apiv3_key))
    return e;
  if (w.apiv3_key.size() != 32)
    // The length only: the key itself is never printed.
    return error_at("wechatpay.apiv3_key",
                    "must be exactly 32 bytes (the APIv3 key from the merchant platform), has "
                      + std::to_string(w.apiv3_key.size()));
  if (auto e = check_required("wechatpay.merchant_serial_no", w.merchant_serial_no))
    return e;
  if (!all_of(w.merchant_serial_no, ::isxdigit))
    return error_at("wechatpay.merchant_serial_no",
                    json_quoted(w.merchant_serial_no)
                      + " must be hexadecimal (the serial of the merchant API certificate)");
  if (auto e = check_required("wechatpay.merchant_private_key_file", w.merchant_private_key_file))
    return e;
  // WeChat Pay's public key (id + file), or platform certificates, or both
  // during a switch-over.
  bool has_id = !w.platform_public_key_id.empty();
  bool has_file = !w.platform_public_key_file.empty();
  if (!has_id && !has_file && w.platform_certificates_dir.empty())
    return error_at("wechatpay.platform_public_key_id",
                    "missing: set platform_public_key_id and platform_public_key_file, "
                    "or platform_certificates_dir");
  if (has_file && !has_id)
    return check_required("wechatpay.platform_public_key_id", w.platform_public_key_id);
  if (has_id && !has_file)
    return check_required("wechatpay.platform_public_key_file", w.platform_public_key_file);
  if (has_id && !w.platform_public_key_id.starts_with("PUB_KEY_ID_"))
    return error_at("wechatpay.platform_public_key_id",
                    json_quoted(w.platform_public_key_id)
                      + " must start with PUB_KEY_ID_ (a platform certificate serial "
                        "belongs with platform_certificates_dir)");
  if (auto e = check_required("wechatpay.notify_url", w.notify_url))
    return e;
  if (auto e = check_http_url("wechatpay.notify_url", w.notify_url))
    return e;
  if (!w.notify_path.starts_with('/'))
    return error_at("wechatpay.notify_path", json_quoted(w.notify_path) + " must start with '/'");
  if (auto e = check_positive("wechatpay.max_clock_skew", w.max_clock_skew))
    return e;
  if (auto e = check_range("wechatpay.rate_limit_qps", w.rate_limit_qps, 1, 100000))
    return e;
  if (auto e = check_range("wechatpay.concurrency", w.concurrency, 1, 1024))
    return e;
  return check_positive("wechatpay.timeout", w.timeout);
}

problem check_business(const business_config& b) {
  if (auto e = check_http_url("business.callback_url", b.callback_url))
    return e;
  if (auto e = check_required("business.secret", b.secret))
    return e;
  if (auto e = check_positive("business.timeout", b.timeout))
    return e;
  return check_range("business.concurrency", b.concurrency, 1, 1024);
}

/// A schedule of delays: at least one, strictly increasing.
problem check_steps(std::string_view key, const std::vector<duration>& steps) {
  if (steps.empty())
    return error_at(key, "must list at least one delay (e.g. [\"5s\", \"30s\"])");
  if (auto e = std::adjacent_find(steps.begin(), steps.end(), std::greater_equal<>{});
      e != steps.end())
    return error_at(key, "must be strictly increasing, but "
                           + json_quoted(format_duration(*e)) + " is followed by "
                           + json_quoted(format_duration(*(e + 1))));
  return std::nullopt;
}

problem check_schedule(const schedule_config& s) {
  if (auto e = check_steps("schedule.verify", s.verify))
    return e;
  if (auto e = check_steps("schedule.refund_verify", s.refund_verify))
    return e;
  const std::pair<std::string_view, duration> positive[] = {
    {"schedule.verify_every", s.verify_every},
    {"schedule.userpaying_retry", s.userpaying_retry},
    {"schedule.default_expiry", s.default_expiry},
    {"schedule.forward_backoff_initial", s.forward_backoff_initial},
    {"schedule.forward_backoff_max", s.forward_backoff_max},
    {"schedule.stuck_after", s.stuck_after},
    {"schedule.refund_verify_every", s.refund_verify_every},
  };
  for (auto& [key, value] : positive)
    if (auto e = check_positive(key, value))
      return e;
  if (s.forward_backoff_initial > s.forward_backoff_max)
    return error_at("schedule.forward_backoff_initial",
                    "must not exceed schedule.forward_backoff_max ("
                      + format_duration(s.forward_backoff_initial) + " > "
                      + format_duration(s.forward_backoff_max) + ")");
  // close_not_before may be 0 (close right at expiry): tests compress it so;
  // passivate_after may be 0 (every idle order leaves memory).
  return std::nullopt;
}

problem first_problem(const paycoord_config& cfg) {
  if (auto e = check_required("data_dir", cfg.data_dir))
    return e;
  if (auto e = check_endpoint("listen.public", cfg.listen.public_endpoint))
    return e;
  if (auto e = check_endpoint("listen.admin", cfg.listen.admin))
    return e;
  if (auto e = check_endpoint("listen.metrics", cfg.listen.metrics))
    return e;
  if (!cfg.listen.notify.empty())
    if (auto e = check_endpoint("listen.notify", cfg.listen.notify))
      return e;
  if (auto e = check_wechatpay(cfg.wechatpay))
    return e;
  if (auto e = check_business(cfg.business))
    return e;
  if (auto e = check_schedule(cfg.schedule))
    return e;
  if (auto e = check_required("admin.token", cfg.admin.token))
    return e;
  if (cfg.admin.token.size() < 16)
    return error_at("admin.token", "must be at least 16 characters, has "
                                     + std::to_string(cfg.admin.token.size()));
  if (!cfg.api.token.empty() && cfg.api.token.size() < 16)
    return error_at("api.token", "must be at least 16 characters when set, has "
                                   + std::to_string(cfg.api.token.size()));
  if (cfg.api.token == cfg.admin.token && !cfg.api.token.empty())
    return error_at("api.token", "must differ from admin.token (the front end holds it)");
  return std::nullopt;
}

// -- to_json -------------------------------------------------------------------

nlohmann::json json_value(const std::string& value, config_detail::field_kind kind, bool mask) {
  if (mask && kind == config_detail::field_kind::secret && !value.empty())
    return "***";
  return value;
}

nlohmann::json json_value(int value, config_detail::field_kind, bool) {
  return value;
}

nlohmann::json json_value(duration value, config_detail::field_kind, bool) {
  return format_duration(value);
}

nlohmann::json json_value(const std::vector<duration>& values, config_detail::field_kind,
                          bool) {
  auto list = nlohmann::json::array();
  for (auto value : values)
    list.push_back(format_duration(value));
  return list;
}

} // namespace

std::string config_error::message() const {
  return key.empty() ? reason : key + ": " + reason;
}

std::string environment_name(std::string_view key) {
  std::string name = "PAYCOORD_";
  for (char c : key) {
    if (c == '.')
      name += "__";
    else
      name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

expected<endpoint, config_error> parse_endpoint(std::string_view text, std::string_view key) {
  auto parts = split_authority(text);
  if (!parts || !parts->port)
    return make_unexpected(error_at(
      key, json_quoted(text) + " is not host:port (e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080)"));
  auto port = parse_port(*parts->port);
  if (!port)
    return make_unexpected(
      error_at(key, json_quoted(text) + ": the port must be a number from 0 to 65535"));
  return endpoint{std::string(parts->host), *port};
}

bool is_loopback(std::string_view listen_address) {
  auto parsed = parse_endpoint(listen_address, "");
  if (!parsed)
    return false;
  const auto& host = parsed->host;
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

namespace {

/// "0644" when group or others have any access to `path`; nullopt when they
/// have none or the file cannot be examined (a missing key file is an error
/// of its own, reported when it is loaded).
std::optional<std::string> open_mode(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0 || (st.st_mode & 077) == 0)
    return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return std::string{mode};
}

/// The secret keys that `file` (a config file that loaded) sets to a value.
std::vector<std::string> secrets_in_file(const std::string& file) {
  std::vector<std::string> keys;
  auto read = read_config_file(file);
  if (!read)
    return keys;
  const auto& doc = *read;
  const paycoord_config defaults;
  config_detail::for_each_field(defaults, [&](std::string_view key, const auto&,
                                              config_detail::field_kind kind) {
    if (kind != config_detail::field_kind::secret)
      return;
    std::string pointer = "/" + std::string(key);
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    nlohmann::json::json_pointer at{pointer};
    if (doc.contains(at) && doc.at(at).is_string() && !doc.at(at).get<std::string>().empty())
      keys.emplace_back(key);
  });
  return keys;
}

} // namespace

std::vector<std::string> config_warnings(const paycoord_config& cfg, const std::string& config_file) {
  std::vector<std::string> out;
  const auto& key_file = cfg.wechatpay.merchant_private_key_file;
  if (auto mode = open_mode(key_file))
    out.push_back("wechatpay.merchant_private_key_file " + key_file + " has mode " + *mode
                  + ": group or others may read the merchant's private key (chmod 600 it)");
  if (auto mode = open_mode(config_file)) {
    auto keys = secrets_in_file(config_file);
    std::string names;
    for (auto& k : keys)
      names += (names.empty() ? "" : ", ") + k;
    if (!keys.empty())
      out.push_back("the config file " + config_file + " has mode " + *mode + " and sets "
                    + names
                    + ": group or others may read them (chmod 600 it, or set them as "
                      "PAYCOORD_* variables from a file only root reads)");
  }
  if (!is_loopback(cfg.listen.public_endpoint) && cfg.api.token.empty())
    out.push_back("listen.public " + cfg.listen.public_endpoint
                  + " is not loopback and api.token is not set: anyone who reaches it can "
                    "create and read orders (set api.token, and listen.notify for the route "
                    "WeChat calls)");
  return out;
}

expected<paycoord_config, config_error> validate(paycoord_config cfg) {
  if (auto e = first_problem(cfg))
    return make_unexpected(std::move(*e));
  // Clients append "/v3/..." to the base URL.
  while (cfg.wechatpay.base_url.ends_with('/'))
    cfg.wechatpay.base_url.pop_back();
  return cfg;
}

nlohmann::json to_json(const paycoord_config& cfg, bool mask_secrets) {
  auto out = nlohmann::json::object();
  config_detail::for_each_field(cfg, [&](std::string_view key, const auto& member,
                                         config_detail::field_kind kind) {
    std::string pointer = "/" + std::string(key);
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    out[nlohmann::json::json_pointer(pointer)] = json_value(member, kind, mask_secrets);
  });
  return out;
}

} // namespace paycoord
