// libFuzzer over open_notification (net/wechatpay/notification_opener.hpp)
// with the test-only keys of tests/data/wechatpay/, then the model parsers on
// whatever plaintext comes out.
//
// A random body never carries a valid RSA signature, so to get past
// verification the target signs and encrypts itself: in the sealed modes it
// encrypts the input's plaintext with the APIv3 key, wraps it in an envelope,
// signs it with a platform key, and only then applies the input's header and
// body mutations. The oracle: a notification that opens was really signed,
// i.e. its (timestamp, nonce, body, signature) is what the target signed in
// this run, by the key its serial names, or is one of the genuine signed
// messages of the vectors file; anything else that verifies aborts.
//
// Input layout:
//   byte 0  mode
//     bits 0-1  0 raw: the fields below are the headers and body exactly as
//                 received; the target signs nothing
//               1 sealed: the target seals P (below) and signs it
//               2, 3 sealed, then tampered: byte 3 is XORed into the signed
//                 body at offset (byte 4 | byte 5 << 8) mod its size
//     bit 2     signing key (sealed): 0 the platform public key, named by its
//               PUB_KEY_ID_ id; 1 the platform certificate, named by serial
//     bit 3     default event (sealed): 0 TRANSACTION.SUCCESS/transaction,
//               1 REFUND.SUCCESS/refund
//   byte 1  header mask (sealed): bit i set replaces signed header i by field
//           i below (empty = absent); i = timestamp, nonce, signature, serial,
//           signature type
//   byte 2  clock skew: int8 x 5 s from "now" to the signing time (raw: to
//           the vectors' timestamp, so skew 0 opens the vectors' notification)
//   bytes 3-5  the tamper byte and offset (modes 2 and 3)
//   then fields separated by NUL bytes:
//     timestamp, nonce, signature, serial, signature type, then
//     raw:    the body (the rest of the input, NULs included)
//     sealed: event_type, resource nonce, associated_data, then the plaintext
//             P (the rest); an envelope field the input ends before takes its
//             default (the event of bit 3, "fdasflkja484", original_type)

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/wechatpay/aead.hpp"
#include "net/wechatpay/key_set.hpp"
#include "net/wechatpay/keys.hpp"
#include "net/wechatpay/models.hpp"
#include "net/wechatpay/notification_opener.hpp"
#include "net/wechatpay/signed_headers.hpp"
#include "net/wechatpay/signing.hpp"

using namespace paycoord;
using namespace paycoord::wechatpay;

namespace {

// The vectors' certificate-style serial for the second platform key (the
// first is named by the vectors' PUB_KEY_ID_).
constexpr std::string_view certificate_serial = "5C3E1D2A9B8F7E6D5C4B3A291807F6E5D4C3B2A1";
constexpr auto max_skew = std::chrono::seconds{300};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "notification_fuzz: %s\n", what.c_str());
  std::abort();
}

std::string read_fixture(const std::string& name) {
  std::ifstream in{std::string{PAYCOORD_WECHATPAY_FIXTURES} + "/" + name, std::ios::binary};
  if (!in)
    die("cannot read fixture " + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

template <class T>
T must(expected<T, protocol_error> value, const char* what) {
  if (!value)
    die(std::string{what} + ": " + value.error().message());
  return std::move(*value);
}

/// A message a platform key really signed: the exact (timestamp, nonce, body)
/// and signature.
struct genuine_message {
  std::string signature;
  std::string key_id; // the serial that names its key
};

struct fixture {
  std::string apiv3_key;
  std::string public_key_id;
  private_key platform_key;       // named by public_key_id
  private_key certificate_key;    // named by certificate_serial
  public_key platform_public;
  public_key certificate_public;
  key_set keys;
  timestamp vector_time;
  // response_signature_message(...) -> its genuine signature, from the vectors.
  std::map<std::string, genuine_message> genuine;
};

const fixture& the_fixture() {
  static const fixture f = [] {
    auto vectors = nlohmann::json::parse(read_fixture("wechatpay_v3.json"));
    auto platform = must(private_key::from_pem(read_fixture("platform_private.pem")),
                         "platform key");
    // Any other RSA key serves as the second platform key: WeChat signs with
    // either during a switch-over.
    auto second = must(private_key::from_pem(read_fixture("merchant_private.pem")),
                       "second key");
    fixture out{vectors["apiv3_key"].get<std::string>(),
                vectors["platform_public_key_id"].get<std::string>(),
                platform,
                second,
                public_key_of(platform),
                public_key_of(second),
                {},
                {},
                {}};
    if (!out.keys.add_public_key(out.public_key_id, out.platform_public))
      die("add_public_key");
    if (!out.keys.add_certificate(certificate{std::string{certificate_serial},
                                              out.certificate_public}))
      die("add_certificate");
    auto& n = vectors["notification"];
    out.vector_time = from_unix_ms(
      std::stoll(n["headers"]["Wechatpay-Timestamp"].get<std::string>()) * 1000);
    auto remember = [&](const nlohmann::json& v) {
      const auto& h = v["headers"];
      auto message = response_signature_message(h["Wechatpay-Timestamp"].get<std::string>(),
                                                h["Wechatpay-Nonce"].get<std::string>(),
                                                v["body"].get<std::string>());
      out.genuine[message] = {h["Wechatpay-Signature"].get<std::string>(),
                              h["Wechatpay-Serial"].get<std::string>()};
    };
    remember(n);
    remember(vectors["notification_negative"]["gcm_tag_tampered"]);
    remember(vectors["response_query"]);
    return out;
  }();
  return f;
}

/// Splits `data` at NUL bytes into at most `count` fields; the last one takes
/// the rest. Fields the input ends before are nullopt.
std::vector<std::optional<std::string>> split_fields(std::string_view data, size_t count) {
  std::vector<std::optional<std::string>> fields(count);
  for (size_t i = 0; i < count; ++i) {
    if (i + 1 == count) {
      fields[i] = std::string{data};
      break;
    }
    auto nul = data.find('\0');
    fields[i] = std::string{data.substr(0, nul)};
    if (nul == std::string_view::npos)
      break;
    data.remove_prefix(nul + 1);
  }
  return fields;
}

std::string field(const std::vector<std::optional<std::string>>& fields, size_t i) {
  return fields[i].value_or("");
}

/// What a model promises about a parsed plaintext.
void check_plaintext(event_kind kind, const std::string& plaintext) {
  if (auto t = parse_transaction(plaintext)) {
    if (t->mchid.empty() || t->appid.empty() || t->out_trade_no.empty())
      die("a transaction parsed without mchid, appid or out_trade_no");
    bool paid = t->state == trade_state::success || t->state == trade_state::refund;
    if (paid && (t->transaction_id.empty() || !t->amount || t->amount->currency.empty()))
      die("a paid transaction parsed without transaction_id, amount or currency");
    if (t->amount && (t->amount->total < 0 || (t->amount->payer_total && *t->amount->payer_total < 0)))
      die("a transaction parsed with a negative amount");
  }
  if (auto r = parse_refund_event(plaintext)) {
    if (r->out_trade_no.empty() || r->out_refund_no.empty() || r->refund_id.empty()
        || r->refund_status.empty())
      die("a refund event parsed without a required field");
    if (r->amount.total < 0 || r->amount.refund < 0)
      die("a refund event parsed with a negative amount");
  }
  if (kind == event_kind::other)
    (void) parse_api_error(plaintext);
}

// RSA-2048 signing costs about 1 ms; the fuzzer often re-runs an input with
// only its post-signing bytes changed, so signatures are remembered.
std::string cached_signature(const private_key& key, bool second_key, const std::string& message) {
  static std::map<std::string, std::string> cache[2];
  auto& c = cache[second_key ? 1 : 0];
  if (auto it = c.find(message); it != c.end())
    return it->second;
  if (c.size() > 4096)
    c.clear();
  auto signature = must(sign_sha256_rsa(key, message), "sign");
  c.emplace(message, signature);
  return signature;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& f = the_fixture();
  if (size < 6)
    return 0;
  const unsigned mode = data[0] & 3;
  const bool second_key = (data[0] & 4) != 0;
  const bool refund = (data[0] & 8) != 0;
  const unsigned mask = data[1];
  const auto skew = std::chrono::seconds{static_cast<int8_t>(data[2]) * 5};
  const uint8_t tamper = data[3];
  const size_t tamper_at = data[4] | data[5] << 8;
  std::string_view rest{reinterpret_cast<const char*>(data) + 6, size - 6};

  if (mode == 0) {
    auto fields = split_fields(rest, 6);
    signed_headers headers{field(fields, 0), field(fields, 1), field(fields, 2),
                           field(fields, 3), field(fields, 4)};
    std::string body = field(fields, 5);
    auto now = f.vector_time + skew;
    auto opened = open_notification(f.keys, headers, body, now, max_skew, f.apiv3_key);
    auto verified = verify_response(f.keys, headers, body, now, max_skew);
    if (opened && !verified)
      die("open_notification returned a notification whose signature does not verify");
    if (verified) {
      auto message = response_signature_message(headers.timestamp, headers.nonce, body);
      auto known = f.genuine.find(message);
      const public_key* key = f.keys.find(headers.serial);
      if (known == f.genuine.end() || known->second.signature != headers.signature
          || key == nullptr || !(*key == *f.keys.find(known->second.key_id)))
        die("verified a raw notification that no key signed");
    }
    if (opened)
      check_plaintext(classify_event(opened->envelope.event_type), opened->plaintext);
    return 0;
  }

  // -- sealed: the target encrypts and signs, then mutates ------------------------
  auto fields = split_fields(rest, 9);
  notification envelope;
  envelope.id = "EV-2026112610000500001";
  envelope.create_time = "2026-11-26T10:00:06+08:00";
  envelope.resource_type = "encrypt-resource";
  envelope.summary = refund ? "退款成功" : "支付成功";
  envelope.event_type = fields[5].value_or(refund ? "REFUND.SUCCESS" : "TRANSACTION.SUCCESS");
  envelope.resource.original_type = refund ? "refund" : "transaction";
  envelope.resource.nonce = fields[6].value_or("fdasflkja484");
  envelope.resource.associated_data = fields[7].value_or(envelope.resource.original_type);
  const std::string plaintext = field(fields, 8);

  const auto now = f.vector_time;
  const auto signed_at = now + skew;
  const private_key& signer = second_key ? f.certificate_key : f.platform_key;
  const public_key& signer_public = second_key ? f.certificate_public : f.platform_public;
  const std::string serial = second_key ? std::string{certificate_serial} : f.public_key_id;

  auto sealed_resource = encrypt_resource(f.apiv3_key, envelope.resource.original_type,
                                          envelope.resource.associated_data,
                                          envelope.resource.nonce, plaintext);
  if (!sealed_resource)
    return 0; // a nonce that is not 12 bytes: nothing to send
  envelope.resource = std::move(*sealed_resource);
  const std::string signed_body = to_json(envelope);
  const std::string header_nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
  const std::string signed_ts = unix_seconds_text(signed_at);
  const std::string signature = cached_signature(
    signer, second_key, response_signature_message(signed_ts, header_nonce, signed_body));
  signed_headers headers{signed_ts, header_nonce, signature, serial,
                         std::string{signature_scheme}};

  std::string* slots[] = {&headers.timestamp, &headers.nonce, &headers.signature,
                          &headers.serial, &headers.signature_type};
  for (unsigned i = 0; i < 5; ++i)
    if (mask & (1u << i))
      *slots[i] = field(fields, i);
  std::string body = signed_body;
  if (mode >= 2 && !body.empty())
    body[tamper_at % body.size()] = static_cast<char>(body[tamper_at % body.size()] ^ tamper);

  auto opened = open_notification(f.keys, headers, body, now, max_skew, f.apiv3_key);
  const bool untouched = body == signed_body && headers.timestamp == signed_ts
                         && headers.nonce == header_nonce && headers.signature == signature;
  const bool in_window = skew > -max_skew && skew < max_skew;
  const public_key* named = f.keys.find(headers.serial);
  const bool right_key = named != nullptr && *named == signer_public;
  const bool good_type =
    headers.signature_type.empty() || headers.signature_type == signature_scheme;

  if (opened) {
    if (!untouched || !right_key || !in_window || !good_type)
      die("opened a notification the target did not sign so (mode " + std::to_string(mode)
          + ", mask " + std::to_string(mask) + ")");
    if (opened->plaintext != plaintext)
      die("the opened plaintext differs from the one sealed");
    if (to_json(opened->envelope) != signed_body)
      die("the opened envelope re-serialises differently from the body signed");
    check_plaintext(classify_event(opened->envelope.event_type), opened->plaintext);
  } else if (untouched && right_key && in_window && good_type
             && is_signature_failure(opened.error().code)) {
    // A genuine notification inside the replay window must pass
    // verification; it may still fail later (an over-long field, say).
    die("a genuinely signed notification was rejected as forged: " + opened.error().message());
  }
  return 0;
}
