#include "demo/poll_model.hpp"

#include <algorithm>
#include <map>

namespace paycoord::demo {

namespace {

/// Index of the last poll at or before `t` (-1 for "before the first").
int64_t last_poll_index(const poll_model& m, duration t) {
  auto since_first = (t - m.phase).count();
  auto p = m.period.count();
  // Floor division that also holds for t before the first poll.
  return since_first >= 0 ? since_first / p : -((-since_first + p - 1) / p);
}

/// `(from, until]`: the span during which the order is polled.
struct polled_span {
  duration from{0};
  duration until{0};
};

polled_span span_of(const poll_model& m, const polled_order& o, duration window_end) {
  if (!o.paid)
    return {o.created, std::min(o.created + m.expiry, window_end)};
  if (!o.notification_lost)
    // Known as soon as it is paid: a poll at that very moment is not needed.
    return {o.created, *o.paid - duration{1}};
  return {o.created, next_poll(m, *o.paid)};
}

} // namespace

int64_t polls_between(const poll_model& model, duration from, duration to) {
  if (to <= from)
    return 0;
  return last_poll_index(model, to) - last_poll_index(model, from);
}

duration next_poll(const poll_model& model, duration t) {
  auto before = last_poll_index(model, t - duration{1});
  return model.phase + model.period * (before + 1);
}

poll_outcome simulate_polls(const poll_model& model, const polled_order& order,
                            duration window_end) {
  auto span = span_of(model, order, window_end);
  poll_outcome out;
  out.queries = polls_between(model, span.from, span.until);
  if (order.paid && order.notification_lost)
    out.time_to_fix = span.until - *order.paid;
  return out;
}

int64_t largest_poll(const poll_model& model, const std::vector<polled_order>& orders,
                     duration window_end) {
  std::map<int64_t, int64_t> per_poll;
  for (auto& o : orders) {
    auto span = span_of(model, o, window_end);
    for (auto i = last_poll_index(model, span.from) + 1; i <= last_poll_index(model, span.until);
         ++i)
      ++per_poll[i];
  }
  int64_t most = 0;
  for (auto& [poll, count] : per_poll)
    most = std::max(most, count);
  return most;
}

} // namespace paycoord::demo
