#include "demo/report_tables.hpp"

#include <algorithm>
#include <map>

#include "demo/text_format.hpp"

namespace paycoord::demo {

namespace {

using json = nlohmann::json;
using cell = report_cell;

std::string count(const json& v) {
  return v.is_number() ? std::to_string(v.get<int64_t>()) : "-";
}

double number(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0;
}

std::string format_at(const json& seconds) {
  return seconds.is_number() ? format_text("%.1f s", seconds.get<double>()) : "-";
}

/// The invariants' labels, in the order the table shows them.
const std::vector<std::pair<std::string, std::string>>& invariant_labels() {
  static const std::vector<std::pair<std::string, std::string>> labels{
    {"paid_equals_confirmed", "paid minus confirmed at the business server"},
    {"lost", "lost: paid, never confirmed"},
    {"unpaid_delivered", "unpaid orders delivered"},
    {"wrongly_paid", "wrongly paid"},
    {"probes_accepted", "probe-signed notifications accepted"},
    {"bad_signatures", "bad signatures seen by WeChat / the business"},
  };
  return labels;
}

/// One row per invariant of `labels` found in the report, with its verdict.
void add_invariant_rows(report_table& t, const json& r,
                        const std::vector<std::pair<std::string, std::string>>& labels) {
  std::map<std::string, const json*> by_name;
  for (auto& inv : r.at("invariants"))
    by_name[inv.at("name").get<std::string>()] = &inv;
  for (auto& [name, label] : labels) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      continue;
    bool ok = it->second->at("ok").get<bool>();
    t.rows.push_back({{label},
                      {count(it->second->at("value"))},
                      {"must be 0"},
                      {ok ? "ok" : "FAIL", ok ? cell::mark::ok : cell::mark::fail}});
  }
}

report_table reconciliation_table(const json& r) {
  const auto& c = r.at("counts");
  report_table t{"Reconciliation: what WeChat charged against what the business server has",
                 {"", "orders", "rule", ""},
                 {},
                 "",
                 "lrll"};
  t.rows.push_back({{"orders created"}, {count(c.at("created"))}, {}, {}});
  t.rows.push_back({{"paid at WeChat"}, {count(c.at("paid_at_wechat"))}, {}, {}});
  t.rows.push_back({{"confirmed at the business server"},
                    {count(c.at("confirmed_at_business"))},
                    {"= paid at WeChat"},
                    {}});
  add_invariant_rows(t, r, invariant_labels());
  t.rows.push_back({{"never paid (abandoned checkouts)"},
                    {count(c.at("unpaid"))},
                    {"nothing delivered"},
                    {}});
  t.rows.push_back({{"callbacks accepted (distinct orders)"},
                    {count(c.at("deliveries")) + " (" + count(c.at("distinct_keys")) + ")"},
                    {"at least once; deduped on the key"},
                    {}});
  return t;
}

/// The refund invariants' labels, in the order the refunds table shows them.
const std::vector<std::pair<std::string, std::string>>& refund_invariant_labels() {
  static const std::vector<std::pair<std::string, std::string>> labels{
    {"refunds_lost", "lost: succeeded at WeChat, never delivered"},
    {"refunded_over_paid", "orders refunded more than was paid"},
    {"wrong_refund_deliveries", "wrong refund deliveries (contradict WeChat)"},
    {"refunds_unsettled", "not settled, or not as WeChat says"},
    {"refund_repeats_not_deduped", "repeated requests not answered 200"},
    {"over_refunds_not_refused", "over-refunds not refused 409"},
  };
  return labels;
}

report_table refunds_table(const json& r) {
  const auto& f = r.at("refunds");
  const auto& answers = f.at("answers");
  const auto& delivered = f.at("delivered");
  const auto& wechat = f.at("wechat");
  report_table t{"Refunds: what WeChat refunded against what the business server heard",
                 {"", "refunds", "rule", ""},
                 {},
                 "Requested: each refund a customer asked for once (a repeat of the same "
                 "out_refund_no is not a new one). Settled: SUCCESS, CLOSED, or ABNORMAL parked "
                 "for a person, at paycoord as at WeChat, with that state's callback at the "
                 "business server. Fixed: a person resolved an ABNORMAL refund at WeChat and "
                 "paycoord noticed (notification or its refund query).",
                 "lrll"};
  t.rows.push_back({{"customers asking for a refund"},
                    {count(f.at("customers"))},
                    {count(f.at("two_step_customers")) + " in two steps"},
                    {}});
  t.rows.push_back({{"refunds requested"},
                    {count(f.at("requested"))},
                    {count(f.at("partial")) + " partial"},
                    {}});
  t.rows.push_back({{"  accepted by WeChat at once (201)"}, {count(answers.at("accepted_201"))},
                    {}, {}});
  t.rows.push_back({{"  apply failed, retried by paycoord (202)"},
                    {count(answers.at("requested_202"))},
                    {},
                    {}});
  t.rows.push_back({{"  paycoord's answer lost, asked again (200)"},
                    {count(answers.at("again_200"))},
                    {},
                    {}});
  t.rows.push_back({{"requested at WeChat"},
                    {count(f.at("requested_at_wechat"))},
                    {"= refunds requested"},
                    {}});
  t.rows.push_back({{"succeeded at WeChat"},
                    {count(f.at("succeeded_at_wechat"))},
                    {format_text("%.2f CNY", number(f, "refunded_fen") / 100.0)},
                    {}});
  t.rows.push_back({{"delivered as succeeded to the business server"},
                    {count(delivered.at("succeeded"))},
                    {"= succeeded at WeChat"},
                    {}});
  t.rows.push_back({{"closed at WeChat (delivered as closed)"},
                    {count(f.at("closed_at_wechat")) + " (" + count(delivered.at("closed")) + ")"},
                    {"no money moved"},
                    {}});
  t.rows.push_back({{"ABNORMAL, fixed at WeChat by a person"},
                    {count(f.at("abnormal_fixed"))},
                    {"noticed by paycoord"},
                    {}});
  t.rows.push_back({{"ABNORMAL, parked (delivered as abnormal)"},
                    {count(f.at("abnormal_parked")) + " ("
                     + count(f.value("abnormal_parked_delivered", json{})) + ")"},
                    {"needs a person"},
                    {}});
  add_invariant_rows(t, r, refund_invariant_labels());
  t.rows.push_back({{"repeated requests (a double submit)"},
                    {count(f.at("repeats"))},
                    {"answered 200"},
                    {}});
  t.rows.push_back({{"over-refund attempts"},
                    {count(f.at("over_refunds"))},
                    {"answered 409"},
                    {}});
  t.rows.push_back({{"apply calls at WeChat (retries)"},
                    {count(wechat.at("apply_calls")) + " (" + count(wechat.at("apply_retries"))
                     + ")"},
                    {"same out_refund_no"},
                    {}});
  t.rows.push_back({{"refund queries at WeChat"}, {count(wechat.at("queries"))}, {}, {}});
  t.rows.push_back({{"refund notifications lost"},
                    {count(wechat.at("notifications_lost"))},
                    {"found by queries"},
                    {}});
  return t;
}

report_table faults_table(const json& r) {
  const auto& f = r.at("faults");
  const auto& run = r.at("run");
  const auto& outage = run.at("business_outage_s");
  report_table t{"What went wrong on purpose", {"fault", "how much"}, {}, "", "ll"};
  t.rows.push_back({{"WeChat notifications lost (never sent)"},
                    {count(f.at("notifications_lost"))}});
  t.rows.push_back({{"notifications duplicated, delayed, reordered"},
                    {count(f.at("notifications_duplicated")) + " duplicated"}});
  t.rows.push_back({{"probe-signed notifications (must be refused)"},
                    {count(f.at("notification_probes"))}});
  t.rows.push_back({{"business server down"},
                    {format_at(outage.at(0)) + " to " + format_at(outage.at(1)) + ", "
                     + count(f.at("business_down_rejections")) + " callbacks refused"}});
  t.rows.push_back({{"WeChat refund notifications lost"},
                    {count(f.value("refund_notifications_lost", json{}))}});
  t.rows.push_back({{"refund applies answered 500"},
                    {count(f.value("refund_apply_errors", json{})) + " accepted nothing, "
                     + count(f.value("refund_apply_answers_lost", json{}))
                     + " accepted (answer lost)"}});
  t.rows.push_back({{"paycoord kill -9"},
                    {run.at("kill_at_s").is_number()
                       ? "at " + format_at(run.at("kill_at_s")) + ", ready again at "
                           + format_at(run.at("restart_ready_at_s"))
                       : "none (--no-crash)"}});
  return t;
}

report_table resolution_table(const json& r) {
  const auto& how = r.at("resolution");
  const auto& lat = r.at("latency_ms");
  report_table t{"How each paid order was resolved (payment at WeChat to delivery at the "
                 "business server, run time)",
                 {"resolved by", "orders", "p50", "p90", "p99", "max"},
                 {},
                 "Rule: " + how.at("rule").get<std::string>() + "."};
  auto row = [&](const char* label, const char* key) {
    const auto& d = lat.at(key);
    t.rows.push_back({{label},
                      {count(d.at("count"))},
                      {format_ms(number(d, "p50"))},
                      {format_ms(number(d, "p90"))},
                      {format_ms(number(d, "p99"))},
                      {format_ms(number(d, "max"))}});
  };
  row("WeChat's notification", "notification");
  row("paycoord's verify query", "verify_query");
  row("the restarted paycoord", "after_restart");
  row("all paid orders", "all");
  if (how.at("unresolved").get<int64_t>() > 0)
    t.rows.push_back({{"never resolved"}, {count(how.at("unresolved")), cell::mark::fail}});
  return t;
}

report_table comparison_table(const json& r) {
  const auto& fix = r.at("lost_notification_fix");
  const auto& mine = fix.at("paycoord");
  const auto& theirs = fix.at("original_design");
  const auto& q = r.at("queries");
  const auto& orig = r.at("original_design");
  auto factor = r.at("run").at("compression").get<int>();
  report_table t{
    format_text("paycoord against the original design, same orders (real-world time: 1 s of this "
           "run = %d s)",
           factor),
    {"", "paycoord: a timer per order", "original: global poll every 10 min"},
    {},
    format_text("Original design model: %s. paycoord's time to fix is measured over %lld lost "
           "notifications that neither the outage nor the restart touched. Both columns "
           "count queries over the run's %s of real time.",
           orig.at("model").get<std::string>().c_str(),
           static_cast<long long>(mine.at("measured_over").get<int64_t>()),
           format_real_s(number(orig, "window_real_s")).c_str())};
  const auto& these = theirs.at("all_lost_notifications_s");
  t.rows.push_back({{"time to fix a lost notification, mean"},
                    {format_real_s(number(mine, "real_mean_s"))},
                    {format_real_s(number(theirs, "model_mean_s")) + " (these orders: "
                     + format_real_s(number(these, "mean")) + ")"}});
  t.rows.push_back({{"time to fix a lost notification, worst"},
                    {format_real_s(number(mine, "real_worst_s"))},
                    {format_real_s(number(theirs, "model_worst_s")) + " (these orders: "
                     + format_real_s(number(these, "max")) + ")"}});
  t.rows.push_back({{"WeChat queries per order"},
                    {format_text("%.2f", number(q, "per_order"))},
                    {format_text("%.2f", number(orig, "queries_per_order"))}});
  t.rows.push_back({{"  per paid / never-paid order"},
                    {format_text("%.2f / %.2f", number(q, "per_paid_order"),
                            number(q, "per_unpaid_order"))},
                    {"-"}});
  t.rows.push_back({{"WeChat queries in total"},
                    {count(q.at("total"))},
                    {count(orig.at("queries_total"))}});
  t.rows.push_back({{"  for a never-paid order over its whole life"},
                    {count(q.at("never_paid_lifetime"))},
                    {count(orig.at("never_paid_lifetime"))}});
  t.rows.push_back({{"largest burst at WeChat"},
                    {count(q.value("busiest_real_minute", json{})) + " in the busiest minute"},
                    {count(orig.at("largest_poll")) + " in one poll, at once"}});
  return t;
}

/// `text` broken into lines of at most `width` characters, each indented.
std::string wrap(const std::string& text, std::size_t width, const std::string& indent) {
  std::string out, line;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find(' ', start);
    if (end == std::string::npos)
      end = text.size();
    auto word = text.substr(start, end - start);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  if (!line.empty())
    out += indent + line + "\n";
  return out;
}

} // namespace

std::vector<report_table> report_tables(const json& report) {
  std::vector<report_table> tables{reconciliation_table(report)};
  if (report.contains("refunds"))
    tables.push_back(refunds_table(report));
  for (auto* make : {faults_table, resolution_table, comparison_table})
    tables.push_back(make(report));
  return tables;
}

std::string render_text(const json& report, bool color) {
  auto paint = [&](const report_cell& c) {
    if (!color || c.verdict == report_cell::mark::none)
      return c.text;
    return std::string{c.verdict == report_cell::mark::ok ? "\x1b[32m" : "\x1b[1;31m"} + c.text
           + "\x1b[0m";
  };
  std::string out;
  for (auto& t : report_tables(report)) {
    std::vector<std::size_t> widths(t.header.size(), 0);
    auto measure = [&](std::size_t i, const std::string& s) {
      if (i < widths.size())
        widths[i] = std::max(widths[i], s.size());
    };
    for (std::size_t i = 0; i < t.header.size(); ++i)
      measure(i, t.header[i]);
    for (auto& row : t.rows)
      for (std::size_t i = 0; i < row.size(); ++i)
        measure(i, row[i].text);
    out += "\n" + (color ? "\x1b[1m" + t.title + "\x1b[0m" : t.title) + "\n";
    auto line = [&](const std::vector<report_cell>& cells) {
      std::string s = " ";
      for (std::size_t i = 0; i < cells.size(); ++i) {
        // Numbers right-aligned after the label column; padding outside colour.
        auto w = i < widths.size() ? widths[i] : cells[i].text.size();
        auto gap = std::string(w - std::min(w, cells[i].text.size()), ' ');
        s += i == 0 ? " " : "  ";
        s += t.right_aligned(i) ? gap + paint(cells[i]) : paint(cells[i]) + gap;
      }
      while (!s.empty() && s.back() == ' ')
        s.pop_back();
      out += s + "\n";
    };
    std::vector<report_cell> header;
    for (auto& h : t.header)
      header.push_back({h});
    line(header);
    for (auto& row : t.rows)
      line(row);
    if (!t.note.empty())
      out += wrap(t.note, 88, "  ");
  }
  return out;
}

} // namespace paycoord::demo
