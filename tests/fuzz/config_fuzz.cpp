// libFuzzer over the config loader (config/config.hpp: load_config), the
// way `paycoord --check-config` uses it: file, then environment, then --set
// overrides, validation, and the effective config printed with secrets
// masked. The real environment is never read (the env map comes from the
// input) and the only files touched are temporary config files, each removed
// after its load.
//
// Input layout, split at the first two NUL bytes:
//   <config file text> \0 <environment> \0 <overrides>
//   - config file text: written to the temporary file; empty means no file
//   - environment: lines NAME=VALUE ('\n' between them), as paycoord_environment()
//     would report them
//   - overrides: lines KEY=VALUE, as `--set KEY=VALUE` gives them
// A part the input ends before is empty.
//
// Checked: nothing throws or crashes; an error names its key and a reason;
// a loaded config prints (masked) without throwing, every non-empty secret
// masked; and loading the unmasked print as a config file gives the same
// config back (config.hpp: to_json), when its key-file paths are absolute
// (relative ones from env or overrides stay relative, by design).

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"

using namespace paycoord;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "config_fuzz: %s\n", what.c_str());
  std::abort();
}

/// A temporary config file, removed when this goes out of scope (an abort
/// leaves at most the one file of the crashing input behind).
class temp_file {
public:
  explicit temp_file(std::string_view text) {
    std::string pattern =
      (std::filesystem::temp_directory_path() / "paycoord-config-fuzz-XXXXXX.json").string();
    int fd = mkstemps(pattern.data(), 5);
    if (fd < 0)
      die("mkstemps failed");
    close(fd);
    path_ = pattern;
    std::ofstream out{path_, std::ios::binary | std::ios::trunc};
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out)
      die("cannot write " + path_);
  }

  ~temp_file() {
    std::remove(path_.c_str());
  }

  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  const std::string& path() const {
    return path_;
  }

private:
  std::string path_;
};

std::string_view take_part(std::string_view& rest) {
  auto nul = rest.find('\0');
  auto part = rest.substr(0, nul);
  rest.remove_prefix(nul == std::string_view::npos ? rest.size() : nul + 1);
  return part;
}

std::vector<std::pair<std::string, std::string>> key_values(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    auto newline = text.find('\n');
    auto line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    auto eq = line.find('=');
    if (eq == std::string_view::npos)
      continue; // environ entries without '=' are skipped, as paycoord_environment does
    out.emplace_back(std::string{line.substr(0, eq)}, std::string{line.substr(eq + 1)});
  }
  return out;
}

void check_error(const config_error& e, const char* where) {
  if (e.key.empty() || e.reason.empty())
    die(std::string{where} + ": an error without its key or reason: '" + e.message() + "'");
}

void check_masked(const paycoord_config& cfg) {
  std::string printed;
  nlohmann::json masked;
  try {
    masked = to_json(cfg, true);
    printed = masked.dump(2); // what --check-config prints
  } catch (const std::exception& e) {
    die(std::string{"printing the effective config threw: "} + e.what());
  }
  const std::pair<const char*, const std::string*> secrets[] = {
    {"/wechatpay/apiv3_key", &cfg.wechatpay.apiv3_key},
    {"/business/secret", &cfg.business.secret},
    {"/admin/token", &cfg.admin.token},
    {"/api/token", &cfg.api.token},
  };
  for (const auto& [pointer, value] : secrets) {
    const auto& shown = masked[nlohmann::json::json_pointer(pointer)];
    if (!value->empty() && shown != "***")
      die(std::string{pointer} + " is not masked");
  }
}

bool absolute_or_empty(const std::string& path) {
  return path.empty() || std::filesystem::path(path).is_absolute();
}

void check_round_trip(const paycoord_config& cfg) {
  const auto& w = cfg.wechatpay;
  if (!absolute_or_empty(w.merchant_private_key_file)
      || !absolute_or_empty(w.platform_public_key_file)
      || !absolute_or_empty(w.platform_certificates_dir))
    return;
  temp_file file{to_json(cfg, false).dump(2)};
  auto again = load_config(file.path(), {});
  if (!again)
    die("the unmasked effective config does not load back: " + again.error().message());
  if (!(*again == cfg))
    die("the unmasked effective config loads back as a different config:\n"
        + to_json(cfg, false).dump(2) + "\n  became\n" + to_json(*again, false).dump(2));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest{reinterpret_cast<const char*>(data), size};
  auto file_text = take_part(rest);
  auto env_text = take_part(rest);
  auto override_text = rest;

  std::optional<temp_file> file;
  if (!file_text.empty())
    file.emplace(file_text);
  std::map<std::string, std::string> env;
  for (auto& [name, value] : key_values(env_text))
    env.emplace(std::move(name), std::move(value)); // the first wins, like a real environ
  auto overrides = key_values(override_text);

  expected<paycoord_config, config_error> cfg = make_unexpected(config_error{});
  try {
    cfg = load_config(file ? file->path() : std::string{}, env, overrides);
  } catch (const std::exception& e) {
    die(std::string{"load_config threw: "} + e.what());
  }
  if (!cfg) {
    check_error(cfg.error(), "load_config");
    return 0;
  }
  (void) config_warnings(*cfg);
  check_masked(*cfg);
  check_round_trip(*cfg);
  return 0;
}
