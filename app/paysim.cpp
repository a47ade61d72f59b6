// paysim: wiring only. Loads the config, starts the WeChat Pay sandbox, the
// business-server simulator and the control API on one io_context, and on
// SIGTERM/SIGINT stops accepting, lets in-flight requests finish and exits 0.

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "sim/paysim.hpp"
#include "sim/sim_config.hpp"

using namespace paycoord;

int main(int argc, char** argv) {
  CLI::App app{"paysim: WeChat Pay v3 sandbox and business-server simulator"};
  std::string config_file;
  std::string log_level = "info";
  app.add_option("--config", config_file, "the paysim config file (JSON)")->required();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off");
  CLI11_PARSE(app, argc, argv);

  auto cfg = sim::load_paysim_config(config_file);
  if (!cfg) {
    std::cerr << "paysim: config error: " << cfg.error().message() << "\n";
    return 1;
  }
  auto level = spdlog::level::from_str(log_level);
  if (level == spdlog::level::off && log_level != "off") {
    std::cerr << "paysim: --log-level: unknown level '" << log_level << "'\n";
    return 1;
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  spdlog::set_level(level);

  boost::asio::io_context io;
  auto sim = sim::paysim::start(io, *cfg);
  if (!sim) {
    std::cerr << "paysim: " << sim.error() << "\n";
    return 1;
  }
  boost::asio::signal_set signals{io, SIGINT, SIGTERM};
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec)
      return;
    spdlog::info("paysim event=shutdown signal={}", sig);
    (*sim)->stop(); // the io threads return once in-flight requests are answered
  });
  std::vector<std::thread> threads;
  for (int64_t i = 0; i < cfg->threads; ++i)
    threads.emplace_back([&io] { io.run(); });
  for (auto& t : threads)
    t.join();
  spdlog::info("paysim event=stopped");
  return 0;
}
