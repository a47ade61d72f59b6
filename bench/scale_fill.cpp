#include "bench/scale_fill.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "actors/order_machine.hpp"
#include "common/time.hpp"
#include "storage/order_store.hpp"

namespace paycoord::bench {

namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

/// Random text over WeChat's openid alphabet.
std::string random_text(std::mt19937_64& rng, size_t n) {
  static constexpr char alphabet[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out(n, 'x');
  for (auto& c : out)
    c = alphabet[rng() % (sizeof(alphabet) - 1)];
  return out;
}

std::string random_hex(std::mt19937_64& rng, size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(n, '0');
  for (auto& c : out)
    c = digits[rng() % 16];
  return out;
}

/// When an order due at `due_ms` was created: uniform over the times that
/// leave it open then (created no later than 5 s before it falls due and
/// before the fill, expiring at least 5 min after it). Orders created at one
/// instant would all reach their next verify step at one instant too: a
/// burst no real population of orders makes.
int64_t created_at(const order_machine& machine, std::mt19937_64& rng, int64_t now_ms,
                   int64_t due_ms) {
  auto hi = std::min(now_ms, due_ms) - 5'000;
  auto lo = due_ms - machine.rules().schedule.default_expiry.count() + 5 * 60'000;
  lo = std::min(lo, hi);
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

/// One order as paycoord writes it on a create: the PENDING record with
/// its `created` and `prepay` events (paycoord commits them in two
/// batches; the store ends the same), then due at `due_ms`.
write_set new_order(const order_machine& machine, std::mt19937_64& rng,
                    const std::string& id, int64_t now_ms, int64_t due_ms) {
  create_order req;
  req.out_trade_no = id;
  req.description = "Monthly plan";
  req.amount_total = static_cast<int64_t>(100 + rng() % 99'900);
  req.payer_openid = "oUpF8u" + random_text(rng, 22);
  auto created_ms = created_at(machine, rng, now_ms, due_ms);
  auto created = machine.create(req, created_ms);
  call_result prepay;
  prepay.ok = true;
  prepay.retryable = false;
  prepay.status = 200;
  prepay.prepay_id = "wx" + std::to_string(created_ms) + random_hex(rng, 20);
  auto placed = machine.on_prepay(created.record, prepay, created_ms);
  auto record = std::move(placed.record);
  // The one timer, due when the plan says. The verify step stays the first:
  // after the query at `due_ms` the machine skips the steps that passed and
  // goes on with the next one after it, counted from creation.
  record.next_due_ms = due_ms;
  record.action = due_ms < record.expire_at_ms ? next_action::verify : next_action::expire_query;
  write_set set;
  for (auto& e : created.events)
    set.events.emplace_back(id, std::move(e));
  for (auto& e : placed.events)
    set.events.emplace_back(id, std::move(e));
  set.put(std::move(record), nullptr);
  return set;
}

} // namespace

std::string fill_order_id(uint64_t seed, uint64_t index) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "SB%lluN%010llu", static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(index));
  return buf;
}

uint64_t directory_bytes(const std::string& dir) {
  uint64_t size = 0;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator{dir, ec})
    if (entry.is_regular_file(ec))
      size += entry.file_size(ec);
  return size;
}

std::optional<int64_t> parse_signed_duration_ms(const std::string& text) {
  if (text == "0")
    return 0;
  bool negative = !text.empty() && text.front() == '-';
  auto d = parse_duration(negative ? std::string_view{text}.substr(1) : std::string_view{text});
  if (!d)
    return std::nullopt;
  return negative ? -d->count() : d->count();
}

std::string with_commas(uint64_t n) {
  auto digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

std::string command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    std::string arg{argv[i]};
    bool plain = !arg.empty()
                 && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789-_./=,:+@%")
                      == std::string::npos;
    if (i > 0)
      out += ' ';
    out += plain ? arg : "'" + arg + "'";
  }
  return out;
}

expected<fill_report, std::string> fill_store(const fill_plan& plan,
                                              const fill_observer& observer,
                                              const std::function<void(uint64_t)>& progress) {
  std::error_code ec;
  if (fs::exists(plan.data_dir, ec) && !fs::is_empty(plan.data_dir, ec))
    return make_unexpected("refusing to fill " + plan.data_dir
                           + ": it is not empty (fill a new directory)");
  if (plan.spread_ms <= 0 || plan.batch_orders == 0)
    return make_unexpected(std::string{"spread and batch size must be positive"});
  fs::create_directories(plan.data_dir, ec);
  auto started = steady::now();
  auto opened = order_store::open(plan.data_dir);
  if (!opened)
    return make_unexpected("cannot open " + plan.data_dir + ": " + opened.error().to_string());
  auto store = std::move(*opened);
  order_machine machine{order_rules{plan.mchid, plan.appid, schedule_config{}}};
  std::mt19937_64 rng{plan.seed};
  std::uniform_int_distribution<int64_t> due_in{0, plan.spread_ms - 1};
  fill_report report;
  report.min_due_ms = std::numeric_limits<int64_t>::max();
  report.max_due_ms = std::numeric_limits<int64_t>::min();
  std::vector<write_set> sets;
  std::vector<const write_set*> batch;
  sets.reserve(plan.batch_orders);
  auto last_progress = steady::now();
  for (uint64_t next = 0; next < plan.orders;) {
    sets.clear();
    batch.clear();
    for (; next < plan.orders && sets.size() < plan.batch_orders; ++next) {
      auto id = fill_order_id(plan.seed, next);
      auto due = plan.first_due_ms + due_in(rng);
      sets.push_back(new_order(machine, rng, id, plan.now_ms, due));
      report.events += sets.back().events.size();
      report.overdue_at_fill += due < plan.now_ms;
      report.min_due_ms = std::min(report.min_due_ms, due);
      report.max_due_ms = std::max(report.max_due_ms, due);
      if (observer)
        observer(id, due);
    }
    for (auto& s : sets)
      batch.push_back(&s);
    // Unsynced batches, as a migration writes them; the last one is synced,
    // which makes every earlier one durable too (one log, in order).
    bool last = next == plan.orders;
    if (auto done = store->commit(batch, last); !done)
      return make_unexpected("commit failed after " + std::to_string(report.orders)
                             + " orders: " + done.error().to_string());
    report.orders += sets.size();
    ++report.batches;
    if (progress && std::chrono::duration<double>(steady::now() - last_progress).count() >= 1) {
      progress(report.orders);
      last_progress = steady::now();
    }
  }
  report.seconds = seconds_since(started);
  auto closing = steady::now();
  store.reset();
  report.close_seconds = seconds_since(closing);
  report.bytes_on_disk = directory_bytes(plan.data_dir);
  if (report.orders == 0)
    report.min_due_ms = report.max_due_ms = 0;
  return report;
}

} // namespace paycoord::bench
