// The exhaustive model check of order_machine (issue: "the promise,
// proven"). Explorations over tests/model/order_world.hpp:
//
// 1. Safety: every input sequence up to a depth, breadth first, states that
//    have the same future merged. Every input the actor can see is tried in
//    every state where it can happen, with peer texts of arbitrary bytes;
//    after every step the properties of order_world's `apply` hold.
//    a. The order alone, from nothing, to depth 10.
//    b. With refunds, from the two states where refunds begin (PAID with
//       its delivery due, CONFIRMED with nothing due), every order and
//       refund input, to depth 7: under any WeChat the SUCCESS refunds and
//       the refunds not CLOSED never exceed what was paid, SUCCESS comes only
//       from a verified fact with the refund's own amount, a final refund
//       never changes, only delivered states are queued and each is
//       delivered oldest first, and whatever is not over keeps a deadline
//       the order's timer carries. Why seeds and depth 7: see the test.
// 2. Liveness: under a WeChat that is consistent (it never knew the order;
//    it always says NOTPAY; it says NOTPAY until closed; the customer pays at
//    some moment, the notification delivered, lost or duplicated) with a few
//    transient errors and a business server that acks after some failures,
//    every path ends settled, in the right state, within a bound of steps
//    and calls.
//    With refunds: a PAID or CONFIRMED order, the merchant asks for a
//    refund, WeChat applies it after a few errors and ends it SUCCESS,
//    CLOSED, or ABNORMAL until a person fixes it (notifications delivered,
//    lost, duplicated, reordered); every path ends with the refund final
//    and every state it reached delivered, nothing left due.
//
// Each prints what it explored. PAYCOORD_MODEL_DEPTH sets the depth of 1a
// (1b: 3 less); a depth below the default also trims 2's refund search.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include <gtest/gtest.h>

#include "tests/model/order_world.hpp"

using namespace paycoord;
using namespace paycoord::model;

namespace {

std::shared_ptr<const order_machine> make_machine() {
  // A fixed "random" draw keeps every run the same (backoff jitter).
  return std::make_shared<order_machine>(model_rules(), [] { return 0.5; });
}

bool carries_text(input_kind k) {
  switch (k) {
    case input_kind::create:
    case input_kind::prepay_failed:
    case input_kind::notify_paid:
    case input_kind::notify_mismatch:
    case input_kind::notify_refund:
    case input_kind::notify_not_success:
    case input_kind::query_not_found:
    case input_kind::query_retry_later:
    case input_kind::query_failed:
    case input_kind::close_refused:
    case input_kind::close_retry_later:
    case input_kind::forward_fail:
    case input_kind::op_resolve:
    case input_kind::crash_fault:
    case input_kind::refund_apply_retry_later:
    case input_kind::refund_apply_refused:
    case input_kind::refund_query_not_found:
    case input_kind::refund_query_retry_later:
    case input_kind::refund_notify_success:
    case input_kind::refund_notify_closed:
    case input_kind::refund_notify_abnormal:
    case input_kind::refund_notify_unknown:
    case input_kind::refund_deliver_fail:
    case input_kind::op_refund_resolve:
      return true;
    default:
      return false;
  }
}

/// The depth asked for by PAYCOORD_MODEL_DEPTH, or `fallback`.
int model_depth(int fallback) {
  const char* env = std::getenv("PAYCOORD_MODEL_DEPTH");
  return env != nullptr ? std::atoi(env) : fallback;
}

struct node {
  world w;
  std::string path; // the first sequence that reached it (for failures)
  double sequences = 0;
};

/// What a breadth-first exploration saw.
struct exploration {
  size_t states = 0;
  uint64_t transitions = 0;
  double sequences = 0;
  std::map<std::string, uint64_t> ended_in;  ///< order state of settled states, first reached
  std::map<std::string, uint64_t> refunds_in; ///< refund states of new states, counted per refund
  uint64_t refunds_over = 0; ///< new states with refunds, every one final and delivered
  std::string failure;       ///< the first broken property, with its path
  double seconds = 0;
};

/// Every input sequence of up to `depth` steps from `seeds` (the
/// refund-only inputs too when `refunds`), states that have the same future
/// merged; every property of order_world's `apply` checked after every step.
exploration explore(const std::vector<node>& seeds, int depth, bool refunds) {
  auto started = std::chrono::steady_clock::now();
  exploration out;
  std::unordered_set<std::string> visited;
  std::unordered_map<std::string, node> layer;
  for (auto& seed : seeds) {
    visited.insert(state_key(seed.w));
    layer.emplace(state_key(seed.w), seed);
  }
  const auto& texts = hostile_texts();
  for (int d = 1; d <= depth && out.failure.empty(); ++d) {
    std::unordered_map<std::string, node> next;
    for (auto& [key, n] : layer) {
      for (int k = 0; k < static_cast<int>(input_kind::count_); ++k) {
        auto kind = static_cast<input_kind>(k);
        if ((!refunds && is_refund_input(kind)) || !enabled(n.w, kind))
          continue;
        input in{kind, carries_text(kind) ? texts[(d + k) % texts.size()] : ""};
        auto w = n.w;
        auto violation = apply(w, in);
        ++out.transitions;
        out.sequences += n.sequences;
        if (!violation.empty()) {
          out.failure = violation + "\n  after:" + n.path + " " + to_string(kind);
          break;
        }
        auto key2 = state_key(w);
        if (visited.count(key2) && !next.count(key2))
          continue; // explored before, at a smaller depth: the same future
        visited.insert(key2);
        auto [i, fresh] = next.try_emplace(key2, node{w, {}, 0});
        if (fresh) {
          i->second.path = n.path + " " + to_string(kind);
          if (settled(w))
            ++out.ended_in[w.record ? to_string(w.record->state) : "none"];
          for (auto& r : w.refunds)
            ++out.refunds_in[to_string(r.state)];
          if (!w.refunds.empty() && refunds_settled(w))
            ++out.refunds_over;
        }
        i->second.sequences += n.sequences;
      }
      if (!out.failure.empty())
        break;
    }
    layer = std::move(next);
  }
  out.states = visited.size();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

/// The world after `path` from the start (each step must keep every property).
node seed_after(std::shared_ptr<const order_machine> machine, std::vector<input_kind> path) {
  node n{initial_world(std::move(machine)), "", 1};
  for (auto kind : path) {
    auto violation = apply(n.w, input{kind, ""});
    EXPECT_TRUE(violation.empty()) << violation << "\n  after:" << n.path << " " << to_string(kind);
    n.path += " ";
    n.path += to_string(kind);
  }
  return n;
}

} // namespace

TEST(order_model_check, every_input_sequence_keeps_every_property) {
  // Deep enough for create, prepay, every verify step, expiry, a close and
  // its confirmation, a payment and its delivery, and operator actions in
  // between; the merge of equal states keeps it to seconds. The refund
  // inputs are left out here and explored from a paid order by the next
  // test: before an order is PAID or CONFIRMED a refund request is refused
  // (ORDER_NOT_PAID), an operator's refund action finds no refund, and a
  // REFUND.* notification is only an event on the timeline, none of which
  // the state key holds.
  // PAYCOORD_MODEL_DEPTH deepens it (12: about 110,000 states, 90 s here).
  const int depth = model_depth(10);
  auto machine = make_machine();
  auto x = explore({node{initial_world(machine), "", 1}}, depth, false);
  ASSERT_TRUE(x.failure.empty()) << x.failure;
  std::printf("model check (safety): depth %d, %zu distinct states, %llu transitions, "
              "%.3g input sequences, %.1f s\n",
              depth, x.states, static_cast<unsigned long long>(x.transitions), x.sequences,
              x.seconds);
  for (auto& [state, count] : x.ended_in)
    std::printf("  settled states first reached in %s: %llu\n", state.c_str(),
                static_cast<unsigned long long>(count));
  // The exploration must have reached every end an order can have.
  for (auto s : {"CONFIRMED", "CLOSED", "ANOMALY", "ORPHAN", "FAULTED"})
    EXPECT_GT(x.ended_in[s], 0u) << "never reached " << s;
}

TEST(order_model_check, every_input_sequence_with_refunds_keeps_every_property) {
  // Refunds exist only on a paid order, so this exploration starts from the
  // two seeds where they can begin: PAID with its delivery due (a refund's
  // calls then share the order's one call and one timer with its own
  // delivery) and CONFIRMED with nothing due. From there every input,
  // the order's and the refunds', is tried in every state: two refund
  // numbers of 60 each on an order of 100, every apply, query and delivery
  // result, REFUND.* notifications for R1 and for a refund never asked for,
  // operator actions, crashes and FAULTED. Reaching those seeds is what
  // the order-only exploration above covers, and the refund half reads
  // nothing of the order but its state, total and currency, the same on
  // every way to PAID; starting from them spends the depth on refunds (a
  // refund's whole life, request to its final state delivered, takes four
  // to six steps, so 7 also covers a second refund or a crash on the way).
  // Twenty-odd inputs are enabled in most states against about ten for the
  // order alone, so the depth is lower than above: 7 takes about as long as
  // the order-only depth 10 (8: 79,000 states, 56 s; 9: 225,000, 180 s).
  // PAYCOORD_MODEL_DEPTH (the sanitizer build sets 7) sets it 3 less.
  const int depth = std::max(model_depth(10) - 3, 1);
  auto machine = make_machine();
  std::vector<node> seeds{
    seed_after(machine, {input_kind::create, input_kind::prepay_ok, input_kind::notify_paid}),
    seed_after(machine, {input_kind::create, input_kind::prepay_ok, input_kind::notify_paid,
                         input_kind::timer, input_kind::forward_ack}),
  };
  ASSERT_EQ(seeds[0].w.record->state, order_state::paid);
  ASSERT_EQ(seeds[1].w.record->state, order_state::confirmed);
  ASSERT_FALSE(facts_of(*seeds[1].w.record).has_timer());
  auto x = explore(seeds, depth, true);
  ASSERT_TRUE(x.failure.empty()) << x.failure;
  std::printf("model check (safety, refunds): depth %d from PAID and CONFIRMED, %zu distinct "
              "states, %llu transitions, %.3g input sequences, %.1f s\n",
              depth, x.states, static_cast<unsigned long long>(x.transitions), x.sequences,
              x.seconds);
  for (auto& [state, count] : x.refunds_in)
    std::printf("  refunds in %s: %llu\n", state.c_str(), static_cast<unsigned long long>(count));
  std::printf("  states with every refund final and delivered: %llu\n",
              static_cast<unsigned long long>(x.refunds_over));
  if (depth >= 7) {
    // Every state a refund can be in was reached, and its end.
    for (auto s : {"REQUESTED", "PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL"})
      EXPECT_GT(x.refunds_in[s], 0u) << "no refund reached " << s;
    EXPECT_GT(x.refunds_over, 0u);
  }
}

// -- liveness ------------------------------------------------------------------

namespace {

/// What WeChat really knows, and answers consistently with.
enum class truth { never_knew_204, never_knew_404, always_notpay, notpay_until_closed, paid };

const char* to_string(truth t) {
  static constexpr const char* names[] = {"never knew the order (close 204)",
                                          "never knew the order (close 404)",
                                          "always NOTPAY (close 204)", "NOTPAY until closed",
                                          "the customer pays at some moment"};
  return names[static_cast<int>(t)];
}

struct live_world {
  world w;
  truth t = truth::always_notpay;
  bool customer_paid = false;
  bool closed_at_wechat = false;
  int notifications_queued = 0;
  int transient_left = 2;    ///< retry_later answers WeChat may still give
  int business_fails_left = 2;
};

std::string live_key(const live_world& lw) {
  return state_key(lw.w) + "|" + std::to_string(lw.customer_paid) + std::to_string(lw.closed_at_wechat)
         + std::to_string(lw.notifications_queued) + std::to_string(lw.transient_left)
         + std::to_string(lw.business_fails_left);
}

/// The moves a consistent world allows next (inputs and world changes).
struct move {
  input_kind kind;
  int pay = 0; ///< 1: the customer pays now (notification delivered later),
               ///< 2: pays and the notification is lost, 3: pays, sent twice
};

std::vector<move> moves(const live_world& lw) {
  std::vector<move> out;
  const auto& w = lw.w;
  bool knows = lw.t != truth::never_knew_204 && lw.t != truth::never_knew_404;
  switch (w.in_flight) {
    case call::prepay:
      out.push_back({knows ? input_kind::prepay_ok : input_kind::prepay_failed});
      return out;
    case call::query:
      if (lw.transient_left > 0)
        out.push_back({input_kind::query_retry_later});
      if (!knows)
        out.push_back({input_kind::query_not_found});
      else if (lw.customer_paid)
        out.push_back({input_kind::query_success});
      else if (lw.closed_at_wechat && lw.t != truth::always_notpay)
        out.push_back({input_kind::query_closed});
      else
        out.push_back({input_kind::query_notpay});
      return out;
    case call::close:
      if (lw.transient_left > 0)
        out.push_back({input_kind::close_retry_later});
      if (lw.t == truth::never_knew_404 || lw.customer_paid)
        out.push_back({input_kind::close_refused}); // 404, or ORDERPAID
      else
        out.push_back({input_kind::close_ok});
      return out;
    case call::forward:
      out.push_back({lw.business_fails_left > 0 ? input_kind::forward_fail
                                                : input_kind::forward_ack});
      return out;
    case call::refund_apply:
    case call::refund_query:
    case call::refund_deliver:
      return out; // no refunds in this world: a dead end, reported as stuck
    case call::none:
      break;
  }
  if (!w.record) {
    out.push_back({input_kind::create});
    return out;
  }
  if (enabled(w, input_kind::timer))
    out.push_back({input_kind::timer});
  if (lw.notifications_queued > 0)
    out.push_back({input_kind::notify_paid});
  if (lw.t == truth::paid && !lw.customer_paid && !lw.closed_at_wechat)
    for (int pay = 1; pay <= 3; ++pay)
      out.push_back({input_kind::timer, pay});
  return out;
}

void perform(live_world& lw, const move& mv, std::string& violation) {
  if (mv.pay != 0) {
    lw.customer_paid = true;
    lw.notifications_queued = mv.pay == 1 ? 1 : mv.pay == 2 ? 0 : 2;
    return;
  }
  if (mv.kind == input_kind::query_retry_later || mv.kind == input_kind::close_retry_later)
    --lw.transient_left;
  if (mv.kind == input_kind::forward_fail)
    --lw.business_fails_left;
  if (mv.kind == input_kind::notify_paid)
    --lw.notifications_queued;
  if (mv.kind == input_kind::close_ok)
    lw.closed_at_wechat = true;
  violation = apply(lw.w, input{mv.kind, ""});
}

struct liveness_search {
  int max_steps;
  uint32_t max_calls;
  std::unordered_map<std::string, int> longest; // steps until settled, memoised
  uint64_t states = 0;
  std::string failure;

  /// The most steps any path from `lw` takes to settle; -1 on a failure.
  int explore(const live_world& lw, int depth, const std::string& path) {
    if (!failure.empty())
      return -1;
    auto key = live_key(lw);
    if (auto i = longest.find(key); i != longest.end())
      return i->second;
    ++states;
    if (settled(lw.w) && lw.w.record) {
      auto s = lw.w.record->state;
      auto want = lw.customer_paid ? order_state::confirmed : order_state::closed;
      if (s != want)
        failure = std::string{"ended "} + paycoord::to_string(s) + ", expected "
                  + paycoord::to_string(want) + " after:" + path;
      if (lw.w.calls > max_calls)
        failure = "settled after " + std::to_string(lw.w.calls) + " calls (bound "
                  + std::to_string(max_calls) + ") after:" + path;
      longest[key] = 0;
      return 0;
    }
    if (depth >= max_steps) {
      failure = "not settled within " + std::to_string(max_steps) + " steps:" + path;
      return -1;
    }
    auto next_moves = moves(lw);
    if (next_moves.empty()) {
      failure = "stuck (nothing can happen, not settled) after:" + path;
      return -1;
    }
    int most = 0;
    for (auto& mv : next_moves) {
      auto next = lw;
      std::string violation;
      perform(next, mv, violation);
      auto step = mv.pay ? "pay" + std::to_string(mv.pay) : std::string{to_string(mv.kind)};
      if (!violation.empty()) {
        failure = violation + " after:" + path + " " + step;
        return -1;
      }
      auto rest = explore(next, depth + 1, path + " " + step);
      if (rest < 0)
        return -1;
      most = std::max(most, rest + 1);
    }
    longest[key] = most;
    return most;
  }
};

} // namespace

TEST(order_model_check, a_consistent_wechat_always_ends_the_order_in_bounded_steps) {
  auto started = std::chrono::steady_clock::now();
  auto machine = make_machine();
  uint64_t states = 0;
  for (auto t : {truth::never_knew_204, truth::never_knew_404, truth::always_notpay,
                 truth::notpay_until_closed, truth::paid}) {
    live_world lw;
    lw.w = initial_world(machine);
    lw.t = t;
    liveness_search search{120, 60, {}, 0, {}};
    auto longest = search.explore(lw, 0, "");
    ASSERT_TRUE(search.failure.empty()) << to_string(t) << ": " << search.failure;
    std::printf("model check (liveness): WeChat %s: %llu states, longest path %d steps\n",
                to_string(t), static_cast<unsigned long long>(search.states), longest);
    states += search.states;
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("model check (liveness): %llu states in all, %.1f s\n",
              static_cast<unsigned long long>(states), seconds);
}

// -- liveness with refunds ------------------------------------------------------

namespace {

/// How WeChat ends the refund, answering consistently with it.
enum class refund_truth { success, closed, abnormal_then_fixed };

const char* to_string(refund_truth t) {
  static constexpr const char* names[] = {"refunds it", "closes it",
                                          "parks it ABNORMAL until a person fixes it"};
  return names[static_cast<int>(t)];
}

struct refund_live_world {
  world w;
  refund_truth t = refund_truth::success;
  bool requested = false;  ///< the merchant asked for R1
  bool accepted = false;   ///< an apply reached WeChat (its answer may have been lost)
  refund_state status = refund_state::processing; ///< WeChat's view once accepted
  bool fixed = false;      ///< a person at WeChat sent the ABNORMAL refund again
  std::vector<input_kind> notifications; ///< sent, not yet delivered (in any order)
  int apply_errors_left = 2; ///< 5xx answers to applies WeChat may still give
  int query_errors_left = 1; ///< ... to queries
  int processing_left = 2; ///< queries answered PROCESSING before WeChat decides
  int abnormal_left = 1;   ///< queries answered ABNORMAL before the person fixes it
  int business_fails_left = 2;
  bool send_twice = true;  ///< a notification may be sent twice
};

std::string refund_live_key(const refund_live_world& lw) {
  auto key = state_key(lw.w) + "|" + std::to_string(lw.requested) + std::to_string(lw.accepted)
             + std::to_string(static_cast<int>(lw.status)) + std::to_string(lw.fixed)
             + std::to_string(lw.apply_errors_left) + std::to_string(lw.query_errors_left)
             + std::to_string(lw.processing_left)
             + std::to_string(lw.abnormal_left) + std::to_string(lw.business_fails_left);
  auto sorted = lw.notifications;
  std::sort(sorted.begin(), sorted.end());
  for (auto k : sorted)
    key += "," + std::to_string(static_cast<int>(k));
  return key;
}

enum class wechat_change : uint8_t {
  none,
  decide,       ///< WeChat ends the PROCESSING refund its way
  fix,          ///< a person at WeChat sends the ABNORMAL refund again
  lost_answer,  ///< the apply reached WeChat, its answer did not come back
};

struct refund_move {
  input_kind kind = input_kind::timer;
  wechat_change change = wechat_change::none;
  int notify = 0; ///< decide: 1 notification sent, 2 lost, 3 sent twice
};

input_kind notification_of(refund_state s) {
  return s == refund_state::success  ? input_kind::refund_notify_success
         : s == refund_state::closed ? input_kind::refund_notify_closed
                                     : input_kind::refund_notify_abnormal;
}

input_kind answer_of(refund_state s, bool apply) {
  switch (s) {
    case refund_state::success:
      return apply ? input_kind::refund_apply_success : input_kind::refund_query_success;
    case refund_state::closed:
      return apply ? input_kind::refund_apply_closed : input_kind::refund_query_closed;
    case refund_state::abnormal:
      return apply ? input_kind::refund_apply_abnormal : input_kind::refund_query_abnormal;
    default:
      return apply ? input_kind::refund_apply_processing : input_kind::refund_query_processing;
  }
}

std::vector<refund_move> moves(const refund_live_world& lw) {
  std::vector<refund_move> out;
  const auto& w = lw.w;
  // What WeChat may do by itself at any moment.
  std::vector<refund_move> changes;
  if (lw.accepted && lw.status == refund_state::processing) {
    // Sent twice only when it ends (an ABNORMAL one twice and then SUCCESS
    // once or twice would add orders of arrival, not kinds).
    bool ends = lw.t != refund_truth::abnormal_then_fixed || lw.fixed;
    for (int notify = 1; notify <= (ends && lw.send_twice ? 3 : 2); ++notify)
      changes.push_back({input_kind::timer, wechat_change::decide, notify});
  }
  if (lw.accepted && lw.status == refund_state::abnormal && !lw.fixed)
    changes.push_back({input_kind::timer, wechat_change::fix});
  switch (w.in_flight) {
    case call::forward:
      out.push_back({lw.business_fails_left > 0 ? input_kind::forward_fail
                                                : input_kind::forward_ack});
      return out;
    case call::refund_deliver:
      out.push_back({lw.business_fails_left > 0 ? input_kind::refund_deliver_fail
                                                : input_kind::refund_deliver_ack});
      return out;
    case call::refund_apply:
      if (lw.apply_errors_left > 0) {
        out.push_back({input_kind::refund_apply_retry_later});
        if (!lw.accepted)
          out.push_back({input_kind::refund_apply_retry_later, wechat_change::lost_answer});
      }
      // WeChat dedupes on out_refund_no: a repeated apply answers the refund
      // as it stands.
      out.push_back({answer_of(lw.accepted ? lw.status : refund_state::processing, true)});
      return out;
    case call::refund_query:
      if (lw.query_errors_left > 0)
        out.push_back({input_kind::refund_query_retry_later});
      if (!lw.accepted)
        out.push_back({input_kind::refund_query_not_found});
      else if (lw.status == refund_state::processing) {
        if (lw.processing_left > 0)
          out.push_back({input_kind::refund_query_processing});
      } else if (lw.status == refund_state::abnormal) {
        if (lw.abnormal_left > 0 || lw.t != refund_truth::abnormal_then_fixed || lw.fixed)
          out.push_back({input_kind::refund_query_abnormal});
      } else {
        out.push_back({answer_of(lw.status, false)});
      }
      out.insert(out.end(), changes.begin(), changes.end());
      return out;
    case call::prepay:
    case call::query:
    case call::close:
      return out; // not in this world: reported as stuck
    case call::none:
      break;
  }
  if (!lw.requested)
    out.push_back({input_kind::refund_request_1});
  if (enabled(w, input_kind::timer))
    out.push_back({input_kind::timer});
  auto sent = lw.notifications;
  std::sort(sent.begin(), sent.end());
  sent.erase(std::unique(sent.begin(), sent.end()), sent.end());
  for (auto k : sent)
    out.push_back({k});
  out.insert(out.end(), changes.begin(), changes.end());
  return out;
}

std::string perform(refund_live_world& lw, const refund_move& mv) {
  switch (mv.change) {
    case wechat_change::decide: {
      lw.status = lw.t == refund_truth::success  ? refund_state::success
                  : lw.t == refund_truth::closed ? refund_state::closed
                  : lw.fixed                     ? refund_state::success
                                                 : refund_state::abnormal;
      for (int i = 0; i < (mv.notify == 1 ? 1 : mv.notify == 3 ? 2 : 0); ++i)
        lw.notifications.push_back(notification_of(lw.status));
      return {};
    }
    case wechat_change::fix:
      lw.status = refund_state::processing;
      lw.fixed = true;
      return {};
    case wechat_change::lost_answer:
      lw.accepted = true;
      break;
    case wechat_change::none:
      break;
  }
  switch (mv.kind) {
    case input_kind::refund_request_1:
      lw.requested = true;
      break;
    case input_kind::refund_apply_processing:
      lw.accepted = true;
      break;
    case input_kind::refund_apply_retry_later:
      --lw.apply_errors_left;
      break;
    case input_kind::refund_query_retry_later:
      --lw.query_errors_left;
      break;
    case input_kind::refund_query_processing:
      --lw.processing_left;
      break;
    case input_kind::refund_query_abnormal:
      --lw.abnormal_left;
      break;
    case input_kind::forward_fail:
    case input_kind::refund_deliver_fail:
      --lw.business_fails_left;
      break;
    case input_kind::refund_notify_success:
    case input_kind::refund_notify_closed:
    case input_kind::refund_notify_abnormal:
      lw.notifications.erase(std::find(lw.notifications.begin(), lw.notifications.end(), mv.kind));
      break;
    default:
      break;
  }
  return apply(lw.w, input{mv.kind, ""});
}

std::string describe(const refund_move& mv) {
  switch (mv.change) {
    case wechat_change::decide:
      return std::string{"wechat_decides"}
             + (mv.notify == 1 ? "" : mv.notify == 2 ? "_lost" : "_twice");
    case wechat_change::fix:
      return "wechat_fixed";
    case wechat_change::lost_answer:
      return "refund_apply_reached_wechat_answer_lost";
    case wechat_change::none:
      break;
  }
  return to_string(mv.kind);
}

/// The refund R1 ended as WeChat ended it, and every state it reached that
/// is delivered was acked, the final one last: "" or what went wrong.
std::string refund_end_problem(const refund_live_world& lw, uint32_t max_calls) {
  const auto& w = lw.w;
  if (!w.record || w.record->state != order_state::confirmed)
    return std::string{"order ended "} + (w.record ? paycoord::to_string(w.record->state) : "none");
  auto* r = find_refund(w.refunds, refund_1);
  if (r == nullptr)
    return "no refund";
  auto want = lw.t == refund_truth::closed ? refund_state::closed : refund_state::success;
  if (r->state != want)
    return std::string{"refund ended "} + paycoord::to_string(r->state) + ", WeChat says "
           + paycoord::to_string(want);
  if (!refunds_settled(w))
    return std::string{"refund "} + paycoord::to_string(r->state) + " with "
           + std::to_string(r->undelivered.size()) + " undelivered, action "
           + paycoord::to_string(r->action);
  auto ghost = w.refund_ghosts.find(refund_1);
  if (ghost == w.refund_ghosts.end() || ghost->second.last_acked != delivery_event(want))
    return "the business server's last ack was not " + std::string{delivery_event(want)};
  if (facts_of(*w.record).has_timer())
    return "the order keeps a timer with nothing to do";
  if (w.calls > max_calls)
    return "ended after " + std::to_string(w.calls) + " calls (bound " + std::to_string(max_calls)
           + ")";
  return {};
}

struct refund_liveness_search {
  int max_steps;
  uint32_t max_calls;
  std::unordered_map<std::string, int> longest; // steps until the end, memoised
  uint64_t states = 0;
  uint32_t most_calls = 0;
  std::string failure;

  /// The most steps any path from `lw` takes to end; -1 on a failure.
  int explore(const refund_live_world& lw, int depth, const std::string& path) {
    if (!failure.empty())
      return -1;
    auto key = refund_live_key(lw);
    if (auto i = longest.find(key); i != longest.end())
      return i->second;
    ++states;
    auto next_moves = moves(lw);
    if (next_moves.empty()) {
      // Nothing can happen any more: it must be over, and right.
      if (auto problem = refund_end_problem(lw, max_calls); !problem.empty()) {
        failure = problem + " after:" + path;
        return -1;
      }
      most_calls = std::max(most_calls, lw.w.calls);
      longest[key] = 0;
      return 0;
    }
    if (depth >= max_steps) {
      failure = "not over within " + std::to_string(max_steps) + " steps:" + path;
      return -1;
    }
    int most = 0;
    for (auto& mv : next_moves) {
      auto next = lw;
      auto violation = perform(next, mv);
      auto step = describe(mv);
      if (!violation.empty()) {
        failure = violation + " after:" + path + " " + step;
        return -1;
      }
      auto rest = explore(next, depth + 1, path + " " + step);
      if (rest < 0)
        return -1;
      most = std::max(most, rest + 1);
    }
    longest[key] = most;
    return most;
  }
};

} // namespace

TEST(order_model_check, a_consistent_wechat_always_ends_a_refund_delivered_in_bounded_steps) {
  // From a PAID order (its own delivery due) and a CONFIRMED one, the
  // merchant asks for a refund; WeChat answers consistently (applies: a few
  // 5xx, one of which may have reached it, then the refund as it stands;
  // the refund ends SUCCESS, CLOSED, or ABNORMAL until a person at WeChat
  // sends it again and it succeeds; each notification delivered, lost or
  // sent twice, in any order) and the business server fails twice, then
  // acks. Every path ends with the order CONFIRMED, the refund in WeChat's
  // final state, every state it reached delivered (the final one acked
  // last), nothing due, within the bounds.
  //
  // A PAYCOORD_MODEL_DEPTH below the default (the sanitizer build's 7,
  // where a state costs ~40 times more) keeps the CONFIRMED order, one
  // apply error, no query error, one failed delivery and no notification
  // sent twice: about 2,200 states, and every kind of step still runs.
  const bool reduced = model_depth(10) < 10;
  auto started = std::chrono::steady_clock::now();
  auto machine = make_machine();
  uint64_t states = 0;
  struct seed {
    const char* name;
    node n;
  };
  std::vector<seed> seeds{
    {"CONFIRMED", seed_after(machine, {input_kind::create, input_kind::prepay_ok,
                                       input_kind::notify_paid, input_kind::timer,
                                       input_kind::forward_ack})},
  };
  if (!reduced)
    seeds.push_back({"PAID", seed_after(machine, {input_kind::create, input_kind::prepay_ok,
                                                  input_kind::notify_paid})});
  for (auto& [name, n] : seeds) {
    for (auto t : {refund_truth::success, refund_truth::closed,
                   refund_truth::abnormal_then_fixed}) {
      refund_live_world lw;
      lw.w = n.w;
      lw.w.calls = 0;
      lw.t = t;
      if (reduced) {
        lw.apply_errors_left = 1;
        lw.query_errors_left = 0;
        lw.business_fails_left = 1;
        lw.send_twice = false;
      }
      refund_liveness_search search{80, 30, {}, 0, 0, {}};
      auto longest = search.explore(lw, 0, "");
      ASSERT_TRUE(search.failure.empty()) << name << ", WeChat " << to_string(t) << ": "
                                          << search.failure;
      std::printf("model check (liveness, refunds): %s order, WeChat %s: %llu states, longest "
                  "path %d steps, at most %u calls\n",
                  name, to_string(t), static_cast<unsigned long long>(search.states), longest,
                  search.most_calls);
      states += search.states;
    }
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("model check (liveness, refunds): %llu states in all, %.1f s\n",
              static_cast<unsigned long long>(states), seconds);
}
