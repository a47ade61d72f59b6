#include "net/wechatpay/aead.hpp"

#include <random>

#include <gtest/gtest.h>

#include "net/wechatpay/base64.hpp"
#include "net/wechatpay/notification_opener.hpp"
#include "tests/net/wechatpay/test_support.hpp"

using namespace paycoord;
using namespace paycoord::wechatpay;
using namespace paycoord::wechatpay::test;
using namespace std::chrono_literals;

namespace {

const std::string key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
const std::string nonce = "fdasflkja484";
const std::string aad = "transaction";
const std::string plaintext = R"({"mchid":"1900000001","trade_state":"SUCCESS"})";

wechatpay_error decrypt_error(std::string_view k, std::string_view n, std::string_view a,
                              std::string_view ct) {
  auto r = aead_decrypt(k, n, a, ct);
  EXPECT_FALSE(r);
  return r ? wechatpay_error::decryption_failed : r.error().code;
}

} // namespace

TEST(aead, round_trips_including_empty_parts) {
  for (auto [a, p] : {std::pair<std::string, std::string>{aad, plaintext},
                      {"", plaintext},
                      {aad, ""},
                      {"", ""},
                      {"certificate", std::string(70000, 'x')}}) {
    auto ct = aead_encrypt(key, nonce, a, p);
    ASSERT_TRUE(ct) << ct.error().message();
    EXPECT_EQ(base64_decode(*ct)->size(), p.size() + 16);
    auto back = aead_decrypt(key, nonce, a, *ct);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, p);
  }
}

TEST(aead, every_tampering_fails_cleanly) {
  auto ct = aead_encrypt(key, nonce, aad, plaintext);
  ASSERT_TRUE(ct);
  auto sealed = *base64_decode(*ct);
  // Every byte of ciphertext and tag, one bit each.
  for (size_t pos = 0; pos < sealed.size(); ++pos) {
    auto tampered = sealed;
    tampered[pos] = static_cast<char>(tampered[pos] ^ (1 << (pos % 8)));
    EXPECT_EQ(decrypt_error(key, nonce, aad, base64_encode(tampered)),
              wechatpay_error::decryption_failed)
      << pos;
  }
  auto other_key = key;
  other_key[0] = 'b';
  EXPECT_EQ(decrypt_error(other_key, nonce, aad, *ct), wechatpay_error::decryption_failed);
  EXPECT_EQ(decrypt_error(key, "fdasflkja485", aad, *ct), wechatpay_error::decryption_failed);
  EXPECT_EQ(decrypt_error(key, nonce, "transactioN", *ct), wechatpay_error::decryption_failed);
  EXPECT_EQ(decrypt_error(key, nonce, "", *ct), wechatpay_error::decryption_failed);
  // Truncated: tag cut, or shorter than a tag.
  EXPECT_EQ(decrypt_error(key, nonce, aad, base64_encode(sealed.substr(0, sealed.size() - 1))),
            wechatpay_error::decryption_failed);
  EXPECT_EQ(decrypt_error(key, nonce, aad, base64_encode(sealed.substr(0, 15))),
            wechatpay_error::decryption_failed);
  EXPECT_EQ(decrypt_error(key, nonce, aad, ""), wechatpay_error::decryption_failed);
  // Extended.
  EXPECT_EQ(decrypt_error(key, nonce, aad, base64_encode(sealed + "x")),
            wechatpay_error::decryption_failed);
}

TEST(aead, bad_inputs_are_named) {
  auto ct = *aead_encrypt(key, nonce, aad, plaintext);
  EXPECT_EQ(decrypt_error(key.substr(1), nonce, aad, ct), wechatpay_error::bad_apiv3_key);
  EXPECT_EQ(decrypt_error(key + "x", nonce, aad, ct), wechatpay_error::bad_apiv3_key);
  EXPECT_EQ(decrypt_error(key, "short", aad, ct), wechatpay_error::decryption_failed);
  EXPECT_EQ(decrypt_error(key, nonce, aad, "not base64!"), wechatpay_error::bad_base64);
  EXPECT_EQ(decrypt_error(key, nonce, aad, "WECHATPAY/SIGNTEST/AAAA"), wechatpay_error::bad_base64);
  EXPECT_FALSE(aead_encrypt(key, "0123456789abc", aad, plaintext));
  EXPECT_FALSE(aead_encrypt("short", nonce, aad, plaintext));
}

TEST(aead, resource_algorithm_is_checked_first) {
  auto resource = encrypt_resource(key, "transaction", aad, nonce, plaintext);
  ASSERT_TRUE(resource) << resource.error().message();
  EXPECT_EQ(resource->algorithm, aead_algorithm);
  EXPECT_EQ(*decrypt_resource(key, *resource), plaintext);
  auto other = *resource;
  other.algorithm = "AEAD_SM4_GCM";
  auto r = decrypt_resource(key, other);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, wechatpay_error::unsupported_algorithm);
  other.algorithm.clear();
  EXPECT_EQ(decrypt_resource(key, other).error().code, wechatpay_error::unsupported_algorithm);
}

TEST(aead, sealed_refund_notification_opens_and_is_not_a_payment) {
  key_set keys;
  ASSERT_TRUE(keys.add_public_key("PUB_KEY_ID_TEST", load_public_key("platform_public")));
  auto now = at_seconds(1795658406);
  refund_event refund;
  refund.out_trade_no = "A2026112600001";
  refund.out_refund_no = "R1";
  refund.refund_id = "50300000000000000000000000";
  refund.refund_status = "SUCCESS";
  refund.amount = refund_amount{100, 40, 100, 40};

  notification envelope;
  envelope.id = "EV-1";
  envelope.create_time = "2026-11-26T10:00:06+08:00";
  envelope.resource_type = "encrypt-resource";
  envelope.event_type = "REFUND.SUCCESS";
  envelope.summary = "退款成功";
  envelope.resource.original_type = "refund";
  envelope.resource.associated_data = "refund";
  envelope.resource.nonce = "0123456789ab";
  auto sealed = seal_notification(load_private_key("platform_private"), "PUB_KEY_ID_TEST", key,
                                  envelope, to_json(refund), now, "HEADERNONCE");
  ASSERT_TRUE(sealed) << sealed.error().message();

  auto opened = open_notification(keys, sealed->headers, sealed->body, now + 10s, 300s, key);
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(classify_event(opened->envelope.event_type), event_kind::refund);
  EXPECT_EQ(opened->envelope.summary, envelope.summary);
  auto parsed = parse_refund_event(opened->plaintext);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->out_refund_no, "R1");
  EXPECT_EQ(parsed->amount.refund, 40);
  EXPECT_EQ(parsed->amount.payer_refund, 40);
  // A refund is never a transaction: it has no trade_state.
  EXPECT_EQ(parse_transaction(opened->plaintext).error().code, wechatpay_error::missing_field);

  // A wrong APIv3 key is a decryption failure after a valid signature.
  auto wrong = open_notification(keys, sealed->headers, sealed->body, now, 300s,
                                 std::string(32, 'z'));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, wechatpay_error::decryption_failed);
}
