#include "sim/notifier.hpp"

#include <algorithm>
#include <cmath>

#include <spdlog/spdlog.h>

#include "net/wechatpay/aead.hpp"
#include "net/wechatpay/jsapi.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/notification_opener.hpp"

namespace paycoord::sim {

using steady = std::chrono::steady_clock;

const std::vector<duration>& wechat_retry_schedule() {
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  static const std::vector<duration> schedule = {
    seconds{15}, seconds{15}, seconds{30}, minutes{3},  minutes{10},
    minutes{20}, minutes{30}, minutes{30}, minutes{30}, minutes{60},
    hours{3},    hours{3},    hours{3},    hours{6},    hours{6}};
  return schedule;
}

notifier::notifier(options opts, sim_state& state, const sandbox_signer& signer)
  : options_(std::move(opts)), state_(state), signer_(signer) {
  for (std::size_t i = 0; i < std::max<std::size_t>(options_.workers, 1); ++i)
    workers_.emplace_back([this] { run_worker(); });
}

notifier::~notifier() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_)
    worker.join();
}

bool notifier::push(attempt item) {
  if (queue_.size() >= options_.max_pending)
    return false;
  item.sequence = next_sequence_++;
  queue_.push(std::move(item));
  return true;
}

bool notifier::submit(notification_job job) {
  auto plan = state_.plan_delivery(job);
  if (plan.drop) {
    spdlog::info("paysim event=notify_dropped out_trade_no={} id={}", job.out_trade_no, job.id);
    return true;
  }
  auto due = steady::now() + plan.extra_delay;
  bool queued;
  {
    std::lock_guard lock(mutex_);
    queued = queue_.size() + (plan.duplicate ? 2 : 1) <= options_.max_pending;
    if (queued && plan.duplicate)
      push(attempt{due, 0, job, 0, false, true});
    if (queued)
      push(attempt{due, 0, job, 0, plan.probe, false});
  }
  if (!queued) {
    spdlog::warn("paysim event=notify_refused out_trade_no={} id={} reason=queue_full",
                 job.out_trade_no, job.id);
    state_.record_refused(job);
    return false;
  }
  wake_.notify_all();
  return true;
}

std::size_t notifier::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void notifier::clear() {
  std::lock_guard lock(mutex_);
  queue_ = {};
}

void notifier::run_worker() {
  net::http_client_options client_options;
  client_options.timeout = options_.timeout;
  client_options.connect_timeout = std::min<duration>(options_.timeout, std::chrono::seconds{3});
  net::http_client client(client_options);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (queue_.empty()) {
      wake_.wait(lock);
      continue;
    }
    auto due = queue_.top().due;
    if (due > steady::now()) {
      wake_.wait_until(lock, due);
      continue;
    }
    attempt item = queue_.top();
    queue_.pop();
    lock.unlock();
    deliver(item, client);
    lock.lock();
  }
}

expected<wechatpay::sealed_notification, wechatpay::protocol_error>
notifier::seal(const notification_job& job, bool probe) const {
  wechatpay::notification envelope;
  envelope.id = job.id;
  envelope.create_time = job.create_time;
  envelope.resource_type = "encrypt-resource";
  envelope.event_type = job.event_type;
  envelope.summary = job.summary;
  auto resource = wechatpay::encrypt_resource(options_.apiv3_key, job.original_type,
                                              job.original_type, wechatpay::make_nonce(12),
                                              job.plaintext);
  if (!resource)
    return make_unexpected(resource.error());
  envelope.resource = std::move(*resource);
  auto body = wechatpay::to_json(envelope);
  auto headers = signer_.sign(body, probe);
  if (!headers)
    return make_unexpected(headers.error());
  return wechatpay::sealed_notification{std::move(body), std::move(*headers)};
}

void notifier::deliver(const attempt& item, net::http_client& client) {
  const auto& job = item.job;
  if (job.epoch != state_.epoch())
    return; // a reset forgot its order
  auto sealed = seal(job, item.probe);
  if (!sealed) {
    // Only a broken key gets here; retrying would not help.
    spdlog::error("paysim event=notify_seal_failed out_trade_no={} id={} error=\"{}\"",
                  job.out_trade_no, job.id, sealed.error().message());
    state_.record_gave_up(job);
    return;
  }
  const auto& headers = sealed->headers;
  net::outbound_request request{"POST", job.notify_url,
                                {{"Content-Type", "application/json"},
                                 {"User-Agent", "paysim (WeChat Pay v3 sandbox)"},
                                 {std::string{wechatpay::timestamp_header}, headers.timestamp},
                                 {std::string{wechatpay::nonce_header}, headers.nonce},
                                 {std::string{wechatpay::signature_header}, headers.signature},
                                 {std::string{wechatpay::serial_header}, headers.serial},
                                 {std::string{wechatpay::signature_type_header},
                                  headers.signature_type}},
                                std::move(sealed->body)};
  auto response = client.send(request);
  int status = response ? response->status : 0;
  std::string error = response ? "" : std::string{net::to_string(response.error().code)};
  spdlog::info("paysim event=notify_attempt out_trade_no={} id={} event_type={} attempt={} "
               "probe={} copy={} status={} error={}",
               job.out_trade_no, job.id, job.event_type, item.number + 1, item.probe,
               item.duplicate_copy, status, error.empty() ? "none" : error);
  state_.record_attempt(job, status, error, item.probe, item.duplicate_copy);

  if ((status >= 200 && status < 300) || item.duplicate_copy)
    return;
  auto& schedule = wechat_retry_schedule();
  if (item.number >= schedule.size()) {
    state_.record_gave_up(job);
    return;
  }
  auto wait = duration{std::llround(static_cast<double>(schedule[item.number].count())
                                    * options_.time_factor)};
  bool queued;
  {
    std::lock_guard lock(mutex_);
    queued = push(attempt{steady::now() + wait, 0, job, item.number + 1, false, false});
  }
  if (queued)
    wake_.notify_one();
  else
    state_.record_gave_up(job);
}

} // namespace paycoord::sim
