// libFuzzer over the order machine: the bytes are decoded into a sequence of
// the inputs an order actor can see (tests/model/order_world.hpp), its
// refunds' included, with peer texts taken raw from the bytes, and every
// property of the model check is asserted after every step. A violation
// aborts with the sequence.
//
// Layout, per step: one byte picks among the inputs enabled in the current
// state (in input_kind order, modulo their number), the next is the length
// (modulo 64) of the input's text, which follows. New input kinds are
// appended to input_kind, so a seed keeps its meaning. The seeds in
// tests/fuzz/corpus/order_machine/ are such sequences: an order paid and
// confirmed, expired and closed, an error text of long Chinese; and refunds
// (refund_*): delivered after a failed delivery, ABNORMAL then SUCCESS with
// both events delivered, refused then a second refund, parked by FAULTED
// and retried, an orphan REFUND.SUCCESS then a mismatched amount.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/model/order_world.hpp"

using namespace paycoord;
using namespace paycoord::model;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto machine = std::make_shared<const order_machine>(
    model_rules(), [] { return 0.5; });
  auto w = initial_world(machine);
  std::string path;
  size_t i = 0;
  // At most 96 steps: an order's whole life takes about 40 and a refund's
  // after it about 35 more (see the model check's liveness figures); longer
  // inputs only slow the search.
  for (int step = 0; step < 96 && i < size; ++step) {
    std::vector<input_kind> choices;
    for (int k = 0; k < static_cast<int>(input_kind::count_); ++k)
      if (enabled(w, static_cast<input_kind>(k)))
        choices.push_back(static_cast<input_kind>(k));
    if (choices.empty())
      break;
    input in{choices[data[i++] % choices.size()], {}};
    // The next byte, when present, is the length of the input's text.
    if (i < size) {
      size_t n = data[i++] % 64;
      n = std::min(n, size - i);
      in.text.assign(reinterpret_cast<const char*>(data + i), n);
      i += n;
    }
    path += " ";
    path += to_string(in.kind);
    auto violation = apply(w, in);
    if (!violation.empty()) {
      std::fprintf(stderr, "order machine property broken: %s\n  after:%s\n",
                   violation.c_str(), path.c_str());
      std::abort();
    }
  }
  return 0;
}
