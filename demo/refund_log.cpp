#include "demo/refund_log.hpp"

namespace paycoord::demo {

bool refund_held(int status) {
  return status == 201 || status == 202 || status == 200 || status == 502;
}

bool refund_state_settles(const std::string& state) {
  return state == "SUCCESS" || state == "CLOSED" || state == "ABNORMAL";
}

std::size_t refund_log::add(refund_trace trace) {
  std::lock_guard guard{mutex_};
  traces_.push_back(std::move(trace));
  return traces_.size() - 1;
}

refund_trace refund_log::get(std::size_t index) const {
  std::lock_guard guard{mutex_};
  return traces_.at(index);
}

void refund_log::put(std::size_t index, refund_trace trace) {
  std::lock_guard guard{mutex_};
  traces_.at(index) = std::move(trace);
}

refund_counts refund_log::counts() const {
  std::lock_guard guard{mutex_};
  refund_counts c;
  for (auto& t : traces_) {
    if (t.kind != refund_request_kind::refund)
      continue;
    ++c.total;
    c.requested += refund_held(t.status);
    c.succeeded += t.state == "SUCCESS";
    c.delivered_succeeded += t.state == "SUCCESS" && t.delivered;
    c.abnormal += t.state == "ABNORMAL";
    c.settled += t.settled;
  }
  return c;
}

std::vector<refund_trace> refund_log::snapshot() const {
  std::lock_guard guard{mutex_};
  return traces_;
}

} // namespace paycoord::demo
