#include "demo/order_log.hpp"

namespace paycoord::demo {

order_log::order_log(std::size_t orders) : traces_(orders) {
}

void order_log::record_create_attempt(std::size_t index) {
  std::lock_guard guard{mutex_};
  ++traces_.at(index).create_attempts;
}

void order_log::record_created(std::size_t index, int64_t now_ms, int status) {
  std::lock_guard guard{mutex_};
  auto& t = traces_.at(index);
  t.created_ms = now_ms;
  t.create_status = status;
  if (t.state.empty())
    t.state = "PENDING";
}

void order_log::record_create_failed(std::size_t index) {
  std::lock_guard guard{mutex_};
  traces_.at(index).create_failed = true;
}

void order_log::record_paid(std::size_t index, int64_t now_ms) {
  std::lock_guard guard{mutex_};
  traces_.at(index).paid_ms = now_ms;
}

void order_log::record_state(std::size_t index, const std::string& state,
                             const std::string& paid_via, bool late, int64_t now_ms) {
  std::lock_guard guard{mutex_};
  auto& t = traces_.at(index);
  t.state = state;
  t.paid_via = paid_via;
  t.late = late;
  if (state == "CONFIRMED" && t.confirmed_seen_ms == 0)
    t.confirmed_seen_ms = now_ms;
}

std::vector<std::size_t> order_log::paid_unconfirmed() const {
  std::lock_guard guard{mutex_};
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < traces_.size(); ++i)
    if (traces_[i].paid_ms != 0 && traces_[i].confirmed_seen_ms == 0)
      out.push_back(i);
  return out;
}

order_counts order_log::counts() const {
  std::lock_guard guard{mutex_};
  order_counts c;
  for (auto& t : traces_) {
    c.created += t.created_ms != 0;
    c.create_failed += t.create_failed;
    c.create_retries += t.create_attempts > 1 ? t.create_attempts - 1 : 0;
    if (t.paid_ms == 0)
      continue;
    ++c.paid;
    if (t.state == "CONFIRMED")
      ++c.confirmed;
    else if (t.state == "PAID")
      ++c.paid_forwarding;
    else if (t.state == "PENDING")
      ++c.paid_but_pending;
    else
      ++c.paid_unknown;
  }
  return c;
}

std::vector<order_trace> order_log::snapshot() const {
  std::lock_guard guard{mutex_};
  return traces_;
}

order_trace order_log::trace(std::size_t index) const {
  std::lock_guard guard{mutex_};
  return traces_.at(index);
}

} // namespace paycoord::demo
