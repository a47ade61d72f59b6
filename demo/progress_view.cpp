#include "demo/progress_view.hpp"

#include <cmath>

#include "demo/text_format.hpp"

namespace paycoord::demo {

namespace {

std::string clock_text(double s) {
  auto whole = static_cast<int>(s);
  return format_text("%02d:%04.1f", whole / 60, s - whole / 60 * 60);
}

/// ANSI colour, only when wanted.
struct painter {
  bool on;
  std::string operator()(const std::string& text, const char* code) const {
    return on ? std::string{"\x1b["} + code + "m" + text + "\x1b[0m" : text;
  }
};

constexpr const char* bold = "1";
constexpr const char* red = "1;31";
constexpr const char* green = "32";
constexpr const char* yellow = "33";

} // namespace

std::vector<std::string> render_block(const progress_snapshot& s, double created_per_s,
                                      bool color) {
  painter paint{color};
  const auto& c = s.counts;
  int awaiting = c.created - c.paid;
  int in_flight = c.paid - c.confirmed;
  int64_t refused = s.sim.business_requests - s.sim.deliveries;
  std::string banners;
  if (s.business_down)
    banners += "  " + paint("[business server DOWN]", red);
  if (s.paycoord_down)
    banners += "  " + paint("[paycoord killed -9, restarting]", red);
  std::string symptom = c.paid_but_pending > 0
                          ? paint(format_text("%6d", c.paid_but_pending), yellow)
                              + "   <- charged, but the order still says unpaid"
                          : format_text("%6d", c.paid_but_pending);
  return {
    paint("paycoord demo", bold) + format_text("   %d orders   elapsed ", s.orders)
      + clock_text(s.elapsed_s),
    "  " + s.phase + banners,
    format_text("  orders created          %6d / %d   %5.1f/s   create retries %d", c.created,
           s.orders, created_per_s, c.create_retries),
    format_text("  awaiting payment        %6d   (still deciding, or never paying)", awaiting),
    format_text("  paid at WeChat          %6d", c.paid),
    "    paycoord says PENDING " + symptom,
    format_text("    PAID, forwarding      %6d", c.paid_forwarding),
    "    CONFIRMED             " + paint(format_text("%6d", c.confirmed), green),
    format_text("  in flight               %6d   (paid, not yet confirmed)", in_flight),
    format_text("  notifications lost so far %4lld (and %lld of refunds)   duplicated %lld   probes %lld",
           static_cast<long long>(payment_notifications_lost(s.sim)),
           static_cast<long long>(s.sim.refunds.notifications_dropped),
           static_cast<long long>(s.sim.notifications_duplicated),
           static_cast<long long>(s.sim.notification_probes)),
    format_text("  WeChat queries %lld   forward retries %lld   paycoord starts %d",
           static_cast<long long>(s.sim.queries), static_cast<long long>(refused),
           s.paycoord_starts),
    format_text("  refunds requested       %6d   succeeded at WeChat %lld   delivered %d   "
                "ABNORMAL %d",
                s.refunds.requested, static_cast<long long>(s.sim.refunds.succeeded),
                s.refunds.delivered_succeeded, s.refunds.abnormal),
  };
}

std::string render_line(const progress_snapshot& s) {
  const auto& c = s.counts;
  return format_text("[%6.1fs] created=%d/%d paid=%d pending_but_paid=%d forwarding=%d confirmed=%d "
                "in_flight=%d lost_notifications=%lld queries=%lld forward_retries=%lld "
                "create_retries=%d refunds_requested=%d refunds_succeeded=%lld "
                "refunds_delivered=%d%s%s (%s)",
                s.elapsed_s, c.created, s.orders, c.paid, c.paid_but_pending,
                c.paid_forwarding, c.confirmed, c.paid - c.confirmed,
                static_cast<long long>(payment_notifications_lost(s.sim)),
                static_cast<long long>(s.sim.queries),
                static_cast<long long>(s.sim.business_requests - s.sim.deliveries),
                c.create_retries, s.refunds.requested,
                static_cast<long long>(s.sim.refunds.succeeded), s.refunds.delivered_succeeded,
                s.business_down ? " BUSINESS_DOWN" : "",
                s.paycoord_down ? " PAYCOORD_DOWN" : "", s.phase.c_str());
}

progress_view::progress_view(std::FILE* out, bool live, bool color, double plain_every_s)
  : out_(out), live_(live), color_(color), plain_every_s_(plain_every_s) {
}

void progress_view::show(const progress_snapshot& s) {
  // The creation rate over the last interval.
  auto dt = s.elapsed_s - last_elapsed_s_;
  if (dt >= 0.5) {
    rate_ = (s.counts.created - last_created_) / dt;
    last_elapsed_s_ = s.elapsed_s;
    last_created_ = s.counts.created;
  }
  if (!live_) {
    if (s.elapsed_s - last_plain_s_ < plain_every_s_)
      return;
    last_plain_s_ = s.elapsed_s;
    std::fprintf(out_, "%s\n", render_line(s).c_str());
    std::fflush(out_);
    return;
  }
  std::string frame;
  if (lines_drawn_ > 0)
    frame += "\x1b[" + std::to_string(lines_drawn_) + "A";
  auto lines = render_block(s, rate_, color_);
  for (auto& line : lines)
    frame += "\r\x1b[2K" + line + "\n";
  lines_drawn_ = lines.size();
  std::fputs(frame.c_str(), out_);
  std::fflush(out_);
}

void progress_view::finish(const progress_snapshot& s) {
  last_plain_s_ = -1e9; // a last plain line, whatever the interval
  show(s);
}

} // namespace paycoord::demo
