#include "demo/soak_report.hpp"

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "demo/text_format.hpp"

namespace paycoord::demo {

namespace {

using json = nlohmann::json;

bool is_active_state(const std::string& state) {
  return state == "PENDING" || state == "PAID";
}

bool is_parked_state(const std::string& state) {
  return state == "ANOMALY" || state == "ORPHAN" || state == "FAULTED";
}

void note_failing(store_audit& a, const std::string& id) {
  if (std::find(a.failing.begin(), a.failing.end(), id) == a.failing.end())
    a.failing.push_back(id);
}

/// The integer after `key` (e.g. "active=") in `line`; 0 when absent.
int64_t int_after(const std::string& line, const std::string& key) {
  auto at = line.find(key);
  return at == std::string::npos ? 0 : std::strtoll(line.c_str() + at + key.size(), nullptr, 10);
}

} // namespace

recovery_facts parse_recovery(const std::string& paycoord_log, const std::string& leveldb_log) {
  recovery_facts r;
  std::istringstream own{paycoord_log};
  for (std::string line; std::getline(own, line);) {
    if (line.find("event=store_opened ") != std::string::npos)
      r.active = int_after(line, " active=");
    if (line.find("event=audit_done ") != std::string::npos) {
      r.audited = true;
      r.unreadable = int_after(line, " unreadable=");
      r.index_repairs = int_after(line, " repaired=");
    }
  }
  std::istringstream store{leveldb_log};
  for (std::string line; std::getline(store, line);) {
    r.logs_replayed += line.find("Recovering log #") != std::string::npos;
    r.torn_records += line.find("dropping ") != std::string::npos;
  }
  return r;
}

kill_summary summarize_kills(const std::vector<kill_sample>& kills,
                             const std::vector<order_trace>& traces) {
  kill_summary s;
  double uptime = 0, downtime = 0;
  for (auto& k : kills) {
    ++s.kills;
    s.aimed_kills += k.aimed;
    s.recoveries_audited += k.recovery.audited;
    s.recovered_active_max = std::max(s.recovered_active_max, k.recovery.active);
    s.unreadable_at_recovery += k.recovery.unreadable;
    s.index_repairs += k.recovery.index_repairs;
    s.logs_replayed += k.recovery.logs_replayed;
    s.torn_records += k.recovery.torn_records;
    s.kills_with_creates_out += !k.creates_out.empty();
    for (auto& call : k.creates_out) {
      ++s.creates_out;
      if (call.index >= traces.size() || traces[call.index].create_attempts <= call.attempt)
        continue; // this very call was answered
      ++s.creates_cut;
      auto status = traces[call.index].create_status;
      s.cut_after_sync += status == 200;
      s.cut_before_sync += status == 201;
    }
    s.expected_inside_sync += k.store_busy_share;
    s.kills_store_busy += k.store_busy_share > 0;
    s.store_batches += k.store_batches;
    uptime += k.uptime_s;
    downtime += k.downtime_ms;
    s.downtime_max_ms = std::max(s.downtime_max_ms, k.downtime_ms);
  }
  if (s.kills > 0) {
    s.uptime_mean_s = uptime / static_cast<double>(s.kills);
    s.downtime_mean_ms = downtime / static_cast<double>(s.kills);
  }
  return s;
}

store_audit audit_store(const std::vector<expected_order>& expected,
                        const std::map<std::string, stored_order>& stored,
                        int64_t listing_errors, int64_t summary_unreadable, int64_t now_ms,
                        int64_t lateness_ms) {
  store_audit a;
  a.expected = static_cast<int64_t>(expected.size());
  a.listing_errors = listing_errors;
  a.summary_unreadable = summary_unreadable;
  for (auto& e : expected) {
    auto it = stored.find(e.out_trade_no);
    if (it == stored.end() || it->second.detail_status == 404) {
      ++a.records_lost;
      note_failing(a, e.out_trade_no);
      continue;
    }
    if (it->second.detail_status == 200 && e.amount != 0
        && it->second.amount_total != e.amount) {
      ++a.records_inconsistent;
      note_failing(a, e.out_trade_no);
    }
  }
  for (auto& [id, x] : stored) {
    a.listed += x.listed;
    if (x.detail_status == 404)
      continue; // counted as lost above when it had to be there
    if (x.detail_status != 200) {
      ++a.records_unreadable;
      note_failing(a, id);
      continue;
    }
    if (!x.events_complete) {
      ++a.records_inconsistent;
      note_failing(a, id);
    }
    if (is_parked_state(x.state)) {
      ++a.parked;
      note_failing(a, id);
    }
    if (!is_active_state(x.state))
      continue;
    ++a.active;
    switch (timer_of(x, now_ms, lateness_ms)) {
      case timer_status::missing:
        ++a.without_timer;
        note_failing(a, id);
        break;
      case timer_status::overdue:
        ++a.overdue_timers;
        note_failing(a, id);
        break;
      case timer_status::armed:
        break;
    }
  }
  return a;
}

timer_status timer_of(const stored_order& x, int64_t now_ms, int64_t lateness_ms) {
  if (x.actor_alive && x.in_flight)
    return timer_status::armed; // its call's result arms the next step
  // Passivated: its timer is the index entry in the store (the detail shows
  // it only when it is there).
  if (!(x.actor_alive || x.passivated) || x.next_action.empty())
    return timer_status::missing;
  if (x.next_due_ms != 0 && x.next_due_ms + lateness_ms < now_ms)
    return timer_status::overdue;
  return timer_status::armed;
}

std::vector<invariant_check> soak_invariants(const reconciliation& r, const store_audit& a,
                                             const kill_summary& k) {
  return {
    {"paid_not_confirmed",
     "1. paid at WeChat but not CONFIRMED at paycoord and delivered to the business server",
     r.lost, 0},
    {"paid_minus_delivered",
     "1. orders paid at WeChat minus orders delivered to the business server",
     r.paid_at_wechat - r.confirmed_at_business, 0},
    {"unpaid_delivered", "2. orders delivered to the business server that WeChat never charged",
     r.unpaid_delivered, 0},
    {"wrongly_paid",
     "2. orders paycoord marked paid that WeChat did not charge, or delivered with the wrong "
     "amount",
     r.wrongly_paid, 0},
    {"records_lost",
     "3. orders paycoord answered 201/200 for, or placed at WeChat, that its store does not hold",
     a.records_lost, 0},
    {"records_unreadable",
     "3. records that do not read back: detail errors, listing pages that failed, records "
     "unreadable at any restart's store audit",
     a.records_unreadable + a.listing_errors + a.summary_unreadable + k.unreadable_at_recovery,
     0},
    {"restarts_unaudited",
     "3. restarts whose store audit (every record read, the timer index checked) did not finish",
     k.kills - k.recoveries_audited, 0},
    {"index_repairs",
     "4. timer index entries the audit after a restart found missing or stale",
     k.index_repairs, 0},
    {"records_inconsistent", "3. records with the wrong amount or a gap in their timeline",
     a.records_inconsistent, 0},
    {"orders_without_timer",
     "4. PENDING/PAID orders with no armed timer and no call in flight, or a timer long overdue",
     a.without_timer + a.overdue_timers, 0},
    {"parked_orders", "4. orders parked (ANOMALY, ORPHAN, FAULTED): no timer moves them",
     a.parked, 0},
    {"probes_accepted", "probe-signed notifications paycoord accepted",
     r.sim.probes_answered_2xx, 0},
    {"bad_signatures", "requests paysim received with a bad signature or HMAC",
     r.sim.bad_authorization + r.sim.bad_hmac, 0},
  };
}

json to_json(const kill_summary& k) {
  return {{"kills", k.kills},
          {"aimed_kills", k.aimed_kills},
          {"recoveries_audited", k.recoveries_audited},
          {"recovered_active_max", k.recovered_active_max},
          {"unreadable_at_recovery", k.unreadable_at_recovery},
          {"index_repairs", k.index_repairs},
          {"logs_replayed", k.logs_replayed},
          {"torn_records", k.torn_records},
          {"kills_with_creates_out", k.kills_with_creates_out},
          {"creates_out", k.creates_out},
          {"creates_cut", k.creates_cut},
          {"creates_cut_after_sync", k.cut_after_sync},
          {"creates_cut_before_sync", k.cut_before_sync},
          {"kills_store_busy", k.kills_store_busy},
          {"expected_inside_sync", k.expected_inside_sync},
          {"store_batches", k.store_batches},
          {"uptime_mean_s", k.uptime_mean_s},
          {"downtime_mean_ms", k.downtime_mean_ms},
          {"downtime_max_ms", k.downtime_max_ms}};
}

json to_json(const store_audit& a) {
  return {{"expected", a.expected},
          {"listed", a.listed},
          {"listing_errors", a.listing_errors},
          {"summary_unreadable", a.summary_unreadable},
          {"records_lost", a.records_lost},
          {"records_unreadable", a.records_unreadable},
          {"records_inconsistent", a.records_inconsistent},
          {"active", a.active},
          {"without_timer", a.without_timer},
          {"overdue_timers", a.overdue_timers},
          {"parked", a.parked},
          {"failing", a.failing}};
}

std::string render_soak_text(const json& report) {
  auto num = [](const json& j, const char* key) -> long long {
    auto v = j.find(key);
    return v != j.end() && v->is_number() ? v->get<long long>() : 0;
  };
  auto real = [](const json& j, const char* key) -> double {
    auto v = j.find(key);
    return v != j.end() && v->is_number() ? v->get<double>() : 0;
  };
  const auto& run = report.value("run", json::object());
  const auto& kills = report.value("kills", json::object());
  const auto& counts = report.value("counts", json::object());
  const auto& faults = report.value("faults", json::object());
  const auto& store = report.value("store", json::object());
  std::string out;
  out += format_text("\nsoak: %.1f min of load at %.0f orders/s, seed %lld; wall time %.0f s "
                     "(load %.0f s, drain %.0f s)\n",
                     real(run, "minutes"), real(run, "rate"), num(run, "seed"),
                     real(run, "wall_s"), real(run, "load_s"), real(run, "drain_s"));
  out += format_text("restarts: %lld kill -9 (uptime %.1f s mean), down %.0f ms mean, %.0f ms "
                     "max\n",
                     num(kills, "kills"), real(kills, "uptime_mean_s"),
                     real(kills, "downtime_mean_ms"), real(kills, "downtime_max_ms"));
  out += format_text("  %lld kills with POST /v1/orders out (%lld calls); %lld calls cut: %lld "
                     "already synced (answer lost, retry 200), %lld not yet durable (retry "
                     "201)\n",
                     num(kills, "kills_with_creates_out"), num(kills, "creates_out"),
                     num(kills, "creates_cut"), num(kills, "creates_cut_after_sync"),
                     num(kills, "creates_cut_before_sync"));
  out += format_text("  %lld aimed at the next create out, the rest at the random moment; "
                     "LevelDB replayed its log at %lld restarts, dropped %lld torn records\n",
                     num(kills, "aimed_kills"), num(kills, "logs_replayed"),
                     num(kills, "torn_records"));
  out += format_text("  restarts: %lld store audits finished, up to %lld open orders at open, "
                     "%lld unreadable records, %lld index repairs\n",
                     num(kills, "recoveries_audited"), num(kills, "recovered_active_max"),
                     num(kills, "unreadable_at_recovery"), num(kills, "index_repairs"));
  out += format_text("  store syncing just before the kill: %lld kills; expected inside an "
                     "fsync: %.1f; group commits written by the killed processes: %lld\n",
                     num(kills, "kills_store_busy"), real(kills, "expected_inside_sync"),
                     num(kills, "store_batches"));
  out += format_text("orders: %lld created, %lld paid at WeChat, %lld confirmed at the business "
                     "server, %lld unpaid (%lld CLOSED, the rest PENDING until expiry)\n",
                     num(counts, "created"), num(counts, "paid_at_wechat"),
                     num(counts, "confirmed_at_business"), num(counts, "unpaid"),
                     num(counts, "closed"));
  out += format_text("faults: %lld notifications lost, %lld duplicated, %lld probe-signed; "
                     "%lld callbacks refused while the business server was down, %lld answered "
                     "500\n",
                     num(faults, "notifications_lost"), num(faults, "notifications_duplicated"),
                     num(faults, "notification_probes"), num(faults, "business_down_rejections"),
                     num(faults, "business_errors"));
  out += format_text("store: %lld orders expected, %lld listed, %lld active at the end\n",
                     num(store, "expected"), num(store, "listed"), num(store, "active"));
  out += "\ninvariants (each must be 0):\n";
  for (auto& c : report.value("invariants", json::array()))
    out += format_text("  %-22s %8lld  %s  %s\n", c.value("name", "").c_str(),
                       num(c, "value"), c.value("ok", false) ? "ok  " : "FAIL",
                       c.value("description", "").c_str());
  return out;
}

} // namespace paycoord::demo
